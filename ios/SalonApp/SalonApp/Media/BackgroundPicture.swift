import CoreImage
import CoreVideo
import Foundation
import SalonCore

/// A photo the user picked, as the I420 picture the core puts behind them
/// (`Background.picture`): decoded and turned upright by Core Image, scaled down so that its long
/// side is at most 1280 (the core scales it again to cover each frame, once per frame size),
/// rendered into an NV12 full-range pixel buffer and converted like a camera picture
/// (`NV12.i420`, video range).
enum BackgroundPicture {
    static let maxSide: CGFloat = 1280

    /// Nil when the data is not an image Core Image can read.
    static func frame(from data: Data) -> I420Frame? {
        guard var image = CIImage(data: data, options: [.applyOrientationProperty: true]) else { return nil }
        let scale = min(1, maxSide / max(image.extent.width, image.extent.height, 1))
        image = image.transformed(by: CGAffineTransform(scaleX: scale, y: scale))
        image = image.transformed(by: CGAffineTransform(translationX: -image.extent.minX, y: -image.extent.minY))
        // Even sides, as I420 needs.
        let width = Int(image.extent.width) & ~1
        let height = Int(image.extent.height) & ~1
        guard width >= 2, height >= 2 else { return nil }
        var created: CVPixelBuffer?
        let attributes = [kCVPixelBufferIOSurfacePropertiesKey as String: [String: Any]()] as CFDictionary
        guard CVPixelBufferCreate(
            kCFAllocatorDefault, width, height, kCVPixelFormatType_420YpCbCr8BiPlanarFullRange, attributes, &created
        ) == kCVReturnSuccess, let buffer = created else { return nil }
        CIContext().render(image, to: buffer)

        CVPixelBufferLockBaseAddress(buffer, .readOnly)
        defer { CVPixelBufferUnlockBaseAddress(buffer, .readOnly) }
        guard let yBase = CVPixelBufferGetBaseAddressOfPlane(buffer, 0),
              let cbcrBase = CVPixelBufferGetBaseAddressOfPlane(buffer, 1)
        else { return nil }
        let yRow = CVPixelBufferGetBytesPerRowOfPlane(buffer, 0)
        let cbcrRow = CVPixelBufferGetBytesPerRowOfPlane(buffer, 1)
        return NV12.i420(
            width: width,
            height: height,
            y: NV12.Plane(bytes: UnsafeRawBufferPointer(start: yBase, count: yRow * height), bytesPerRow: yRow),
            cbcr: NV12.Plane(
                bytes: UnsafeRawBufferPointer(start: cbcrBase, count: cbcrRow * (height / 2)), bytesPerRow: cbcrRow),
            range: .full,
            timestampUs: 0)
    }
}
