import Foundation
import SalonCore

/// Between the camera's NV12 (a Y plane, then one plane of interleaved Cb, Cr at half size, each
/// row padded to its `bytesPerRow`) and the core's tightly packed I420. Foundation only, so that
/// it is tested on Linux too; `Camera.swift` hands it the planes of a `CVPixelBuffer`.
enum NV12 {
    /// Which values the camera's samples use.
    enum Range: Equatable {
        /// 0–255 (`kCVPixelFormatType_420YpCbCr8BiPlanarFullRange`).
        case full
        /// Y 16–235, Cb/Cr 16–240 (`…BiPlanarVideoRange`): what H.264 and the core's decoder use.
        case video
    }

    /// One plane as the pixel buffer lays it out.
    struct Plane {
        var bytes: UnsafeRawBufferPointer
        /// Bytes from one row to the next (at least the row's width; usually padded).
        var bytesPerRow: Int
    }

    /// The picture as I420 in video range (full-range samples are scaled into it, as the core's
    /// encoder and every decoder assume BT.601 video range). An odd width or height loses its
    /// last column or row (I420 needs even sizes). Nil when the planes are too small for the
    /// size or the rows overlap: a broken buffer is dropped, never read past its end.
    static func i420(
        width: Int, height: Int, y: Plane, cbcr: Plane, range: Range, timestampUs: Int64
    ) -> I420Frame? {
        let w = width & ~1
        let h = height & ~1
        guard w > 0, h > 0,
              y.bytesPerRow >= width, cbcr.bytesPerRow >= w,
              y.bytes.count >= y.bytesPerRow * (h - 1) + w,
              cbcr.bytes.count >= cbcr.bytesPerRow * (h / 2 - 1) + w
        else { return nil }

        let chromaWidth = w / 2
        let chromaHeight = h / 2
        let lumaSize = w * h
        let chromaSize = chromaWidth * chromaHeight
        let lumaMap = range == .full ? fullToVideoLuma : nil
        let chromaMap = range == .full ? fullToVideoChroma : nil

        var data = Data(count: lumaSize + 2 * chromaSize)
        data.withUnsafeMutableBytes { (out: UnsafeMutableRawBufferPointer) in
            let dst = out.bindMemory(to: UInt8.self)
            for row in 0..<h {
                let from = row * y.bytesPerRow
                let to = row * w
                if let lumaMap {
                    for col in 0..<w { dst[to + col] = lumaMap[Int(y.bytes[from + col])] }
                } else {
                    for col in 0..<w { dst[to + col] = y.bytes[from + col] }
                }
            }
            for row in 0..<chromaHeight {
                let from = row * cbcr.bytesPerRow
                let u = lumaSize + row * chromaWidth
                let v = u + chromaSize
                for col in 0..<chromaWidth {
                    let cb = cbcr.bytes[from + 2 * col]
                    let cr = cbcr.bytes[from + 2 * col + 1]
                    if let chromaMap {
                        dst[u + col] = chromaMap[Int(cb)]
                        dst[v + col] = chromaMap[Int(cr)]
                    } else {
                        dst[u + col] = cb
                        dst[v + col] = cr
                    }
                }
            }
        }
        return I420Frame(width: w, height: h, data: data, timestampUs: timestampUs)
    }

    /// Writes a decoded I420 picture (video range) into NV12 planes, e.g. a
    /// `kCVPixelFormatType_420YpCbCr8BiPlanarVideoRange` pixel buffer for picture in picture.
    /// False, and nothing written, when the frame is malformed or the planes are too small.
    @discardableResult
    static func write(
        _ frame: I420Frame, y: UnsafeMutableRawBufferPointer, yBytesPerRow: Int,
        cbcr: UnsafeMutableRawBufferPointer, cbcrBytesPerRow: Int
    ) -> Bool {
        let w = frame.width
        let h = frame.height
        guard w > 0, h > 0, w % 2 == 0, h % 2 == 0,
              frame.data.count >= w * h * 3 / 2,
              yBytesPerRow >= w, cbcrBytesPerRow >= w,
              y.count >= yBytesPerRow * (h - 1) + w,
              cbcr.count >= cbcrBytesPerRow * (h / 2 - 1) + w
        else { return false }
        let chromaWidth = w / 2
        let chromaSize = chromaWidth * (h / 2)
        frame.data.withUnsafeBytes { (src: UnsafeRawBufferPointer) in
            for row in 0..<h {
                let from = row * w
                let to = row * yBytesPerRow
                for col in 0..<w { y[to + col] = src[from + col] }
            }
            for row in 0..<(h / 2) {
                let u = w * h + row * chromaWidth
                let v = u + chromaSize
                let to = row * cbcrBytesPerRow
                for col in 0..<chromaWidth {
                    cbcr[to + 2 * col] = src[u + col]
                    cbcr[to + 2 * col + 1] = src[v + col]
                }
            }
        }
        return true
    }

    /// Full-range luma (0–255) to video range (16–235), rounded.
    static let fullToVideoLuma: [UInt8] = (0...255).map { UInt8((16 + Double($0) * 219 / 255).rounded()) }
    /// Full-range chroma (0–255 around 128) to video range (16–240 around 128), rounded.
    static let fullToVideoChroma: [UInt8] = (0...255).map {
        UInt8((128 + (Double($0) - 128) * 224 / 255).rounded())
    }
}
