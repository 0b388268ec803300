import CoreVideo
import SalonCore
import Vision

/// Where the person is in a camera picture, from Vision's person segmentation
/// (`VNGeneratePersonSegmentationRequest`, iOS 15): the mask the core composites a background
/// with (`Call.setBackground`, `Call.sendVideoFrame(_:mask:)`). Vision gives a one-component
/// 8-bit mask, 255 on the person and 0 behind, which is what `PersonMask` holds; it is smaller
/// than the picture (the core stretches it) and comes from the same pixel buffer, so it has the
/// picture's orientation.
///
/// Not thread-safe: the camera uses it on its own queue only, one picture after the other (a
/// sequence handler lets Vision keep the mask steady from picture to picture).
final class PersonSegmenter {
    private let request: VNGeneratePersonSegmentationRequest
    private let handler = VNSequenceRequestHandler()

    init() {
        request = VNGeneratePersonSegmentationRequest()
        // `.balanced` keeps up with 30 fps video on the phones we run on; `.accurate` is for
        // still photos.
        request.qualityLevel = .balanced
        request.outputPixelFormat = kCVPixelFormatType_OneComponent8
    }

    /// The person mask of `pixels`, or nil when Vision fails (the core then treats the whole
    /// picture as background while one is set).
    func mask(of pixels: CVPixelBuffer) -> PersonMask? {
        do {
            try handler.perform([request], on: pixels)
        } catch {
            return nil
        }
        guard let result = request.results?.first else { return nil }
        return Self.copy(result.pixelBuffer)
    }

    /// The bytes of a one-component 8-bit buffer, without its row padding.
    private static func copy(_ buffer: CVPixelBuffer) -> PersonMask? {
        guard CVPixelBufferGetPixelFormatType(buffer) == kCVPixelFormatType_OneComponent8 else { return nil }
        CVPixelBufferLockBaseAddress(buffer, .readOnly)
        defer { CVPixelBufferUnlockBaseAddress(buffer, .readOnly) }
        guard let base = CVPixelBufferGetBaseAddress(buffer) else { return nil }
        let width = CVPixelBufferGetWidth(buffer)
        let height = CVPixelBufferGetHeight(buffer)
        let rowBytes = CVPixelBufferGetBytesPerRow(buffer)
        guard width > 0, height > 0, rowBytes >= width else { return nil }
        var data = Data(count: width * height)
        data.withUnsafeMutableBytes { out in
            for row in 0..<height {
                let from = base.advanced(by: row * rowBytes)
                out.baseAddress?.advanced(by: row * width).copyMemory(from: from, byteCount: width)
            }
        }
        return PersonMask(width: width, height: height, data: data)
    }
}
