import AVKit
import SalonCore
import SwiftUI

/// Picture in picture for a call (iOS 15+ sample-buffer content source): one person's decoded
/// video, drawn into an `AVSampleBufferDisplayLayer` that sits in the call screen, floats on
/// when the person leaves the app (`canStartPictureInPictureAutomaticallyFromInline`; needs the
/// `audio` background mode and an active audio session, both there during a call).
final class PictureInPicture: NSObject, AVPictureInPictureSampleBufferPlaybackDelegate, @unchecked Sendable {
    let layer = AVSampleBufferDisplayLayer()
    private var controller: AVPictureInPictureController?
    private var pool: CVPixelBufferPool?
    private var poolSize = (width: 0, height: 0)

    override init() {
        super.init()
        layer.videoGravity = .resizeAspect
        guard AVPictureInPictureController.isPictureInPictureSupported() else { return }
        let source = AVPictureInPictureController.ContentSource(sampleBufferDisplayLayer: layer, playbackDelegate: self)
        let controller = AVPictureInPictureController(contentSource: source)
        controller.canStartPictureInPictureAutomaticallyFromInline = true
        self.controller = controller
    }

    func stop() {
        controller?.stopPictureInPicture()
        layer.flushAndRemoveImage()
    }

    /// Shows a decoded picture (called from the video task, one at a time).
    func show(_ frame: I420Frame) {
        guard let pixels = pixelBuffer(frame) else { return }
        var format: CMVideoFormatDescription?
        CMVideoFormatDescriptionCreateForImageBuffer(allocator: nil, imageBuffer: pixels, formatDescriptionOut: &format)
        guard let format else { return }
        var timing = CMSampleTimingInfo(
            duration: .invalid, presentationTimeStamp: CMTime(value: frame.timestampUs, timescale: 1_000_000),
            decodeTimeStamp: .invalid)
        var sample: CMSampleBuffer?
        CMSampleBufferCreateReadyWithImageBuffer(
            allocator: nil, imageBuffer: pixels, formatDescription: format, sampleTiming: &timing, sampleBufferOut: &sample)
        guard let sample else { return }
        // Live video: show each picture as it comes, not at its timestamp.
        if let attachments = CMSampleBufferGetSampleAttachmentsArray(sample, createIfNecessary: true),
           CFArrayGetCount(attachments) > 0 {
            let dictionary = unsafeBitCast(CFArrayGetValueAtIndex(attachments, 0), to: CFMutableDictionary.self)
            CFDictionarySetValue(
                dictionary, Unmanaged.passUnretained(kCMSampleAttachmentKey_DisplayImmediately).toOpaque(),
                Unmanaged.passUnretained(kCFBooleanTrue).toOpaque())
        }
        DispatchQueue.main.async { [layer] in
            if layer.status == .failed { layer.flush() }
            layer.enqueue(sample)
        }
    }

    /// The I420 picture in an NV12 video-range pixel buffer from a pool of its size.
    private func pixelBuffer(_ frame: I420Frame) -> CVPixelBuffer? {
        if pool == nil || poolSize.width != frame.width || poolSize.height != frame.height {
            let attributes: [String: Any] = [
                kCVPixelBufferPixelFormatTypeKey as String: kCVPixelFormatType_420YpCbCr8BiPlanarVideoRange,
                kCVPixelBufferWidthKey as String: frame.width,
                kCVPixelBufferHeightKey as String: frame.height,
                kCVPixelBufferIOSurfacePropertiesKey as String: [String: Any](),
            ]
            pool = nil
            CVPixelBufferPoolCreate(nil, nil, attributes as CFDictionary, &pool)
            poolSize = (frame.width, frame.height)
        }
        guard let pool else { return nil }
        var buffer: CVPixelBuffer?
        CVPixelBufferPoolCreatePixelBuffer(nil, pool, &buffer)
        guard let buffer else { return nil }
        CVPixelBufferLockBaseAddress(buffer, [])
        defer { CVPixelBufferUnlockBaseAddress(buffer, []) }
        guard let y = CVPixelBufferGetBaseAddressOfPlane(buffer, 0),
              let cbcr = CVPixelBufferGetBaseAddressOfPlane(buffer, 1)
        else { return nil }
        let yRow = CVPixelBufferGetBytesPerRowOfPlane(buffer, 0)
        let cbcrRow = CVPixelBufferGetBytesPerRowOfPlane(buffer, 1)
        let written = NV12.write(
            frame,
            y: UnsafeMutableRawBufferPointer(start: y, count: yRow * CVPixelBufferGetHeightOfPlane(buffer, 0)),
            yBytesPerRow: yRow,
            cbcr: UnsafeMutableRawBufferPointer(start: cbcr, count: cbcrRow * CVPixelBufferGetHeightOfPlane(buffer, 1)),
            cbcrBytesPerRow: cbcrRow)
        guard written else { return nil }
        // The core's decoder gives BT.601 video range; untagged, HD sizes are taken as BT.709.
        CVBufferSetAttachment(buffer, kCVImageBufferYCbCrMatrixKey, kCVImageBufferYCbCrMatrix_ITU_R_601_4, .shouldPropagate)
        return buffer
    }

    // MARK: AVPictureInPictureSampleBufferPlaybackDelegate: a live call cannot pause or seek.

    func pictureInPictureController(_ controller: AVPictureInPictureController, setPlaying playing: Bool) {}

    func pictureInPictureControllerTimeRangeForPlayback(_ controller: AVPictureInPictureController) -> CMTimeRange {
        CMTimeRange(start: .negativeInfinity, duration: .positiveInfinity)
    }

    func pictureInPictureControllerIsPlaybackPaused(_ controller: AVPictureInPictureController) -> Bool { false }

    func pictureInPictureController(
        _ controller: AVPictureInPictureController, didTransitionToRenderSize newRenderSize: CMVideoDimensions
    ) {}

    func pictureInPictureController(
        _ controller: AVPictureInPictureController, skipByInterval skipInterval: CMTime,
        completion completionHandler: @escaping () -> Void
    ) {
        completionHandler()
    }
}

/// Puts the picture-in-picture layer in the call screen (it must be in the window for the system
/// to take it along when the app goes to the background).
struct PictureInPictureLayer: UIViewRepresentable {
    let pip: PictureInPicture

    final class LayerView: UIView {
        var hosted: CALayer? {
            didSet {
                oldValue?.removeFromSuperlayer()
                if let hosted { layer.addSublayer(hosted) }
            }
        }

        override func layoutSubviews() {
            super.layoutSubviews()
            // A layer of its own animates frame changes: follow the view at once.
            CATransaction.begin()
            CATransaction.setDisableActions(true)
            hosted?.frame = bounds
            CATransaction.commit()
        }
    }

    func makeUIView(context: Context) -> LayerView {
        let view = LayerView()
        view.hosted = pip.layer
        return view
    }

    func updateUIView(_ view: LayerView, context: Context) {}
}
