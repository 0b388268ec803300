import Foundation

extension I420Frame {
    /// This picture as RGBA bytes (R, G, B, 255 for each pixel, row by row): what a `CGImage`
    /// with `CGImageAlphaInfo.noneSkipLast` takes. BT.601 limited range, which is what the core's
    /// H.264 decoder produces. Mirrors the Kotlin `I420Frame.toArgb()`.
    public func rgba() throws -> [UInt8] {
        let w = width
        let h = height
        guard w > 0, h > 0, w % 2 == 0, h % 2 == 0 else {
            throw SalonError.invalidInput("I420 needs an even, non-zero size, got \(w)x\(h)")
        }
        let chromaWidth = w / 2
        let uStart = w * h
        let vStart = uStart + chromaWidth * (h / 2)
        guard data.count >= vStart + chromaWidth * (h / 2) else {
            throw SalonError.invalidInput("\(data.count) bytes is too short for I420 \(w)x\(h)")
        }

        var out = [UInt8](repeating: 255, count: w * h * 4)
        data.withUnsafeBytes { (src: UnsafeRawBufferPointer) in
            out.withUnsafeMutableBufferPointer { dst in
                for row in 0..<h {
                    let yRow = row * w
                    let chromaRow = (row / 2) * chromaWidth
                    for col in 0..<w {
                        let y = Int(src[yRow + col]) - 16
                        let u = Int(src[uStart + chromaRow + col / 2]) - 128
                        let v = Int(src[vStart + chromaRow + col / 2]) - 128
                        let luma = 298 * y + 128
                        let i = (yRow + col) * 4
                        dst[i] = clampByte((luma + 409 * v) >> 8)
                        dst[i + 1] = clampByte((luma - 100 * u - 208 * v) >> 8)
                        dst[i + 2] = clampByte((luma + 516 * u) >> 8)
                    }
                }
            }
        }
        return out
    }
}

private func clampByte(_ x: Int) -> UInt8 {
    UInt8(clamping: x)
}
