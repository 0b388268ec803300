import AVFoundation
import SalonCore

/// The phone's camera: an `AVCaptureSession` (the front camera unless flipped, 1280×720 or the
/// nearest preset turned upright, so 720×1280, up to 30 fps: `CaptureFormat`, which the join
/// options follow) whose NV12 full-range pictures become the core's I420 (`NV12.swift`).
/// `session` also feeds the previews. Every session change runs on the camera's own queue, as
/// Apple asks (`startRunning` blocks). With `segmentPerson(true)` (a background is on), each
/// picture also gets Vision's person mask (`PersonSegmenter`), computed on the same queue from
/// the same pixel buffer; the core does the compositing on its own thread.
final class Camera: NSObject, AVCaptureVideoDataOutputSampleBufferDelegate, @unchecked Sendable {
    let session = AVCaptureSession()
    private let queue = DispatchQueue(label: "org.salon.camera")
    private let output = AVCaptureVideoDataOutput()
    // Only touched on `queue`.
    private var input: AVCaptureDeviceInput?
    private var outputAdded = false
    private var sink: ((I420Frame, PersonMask?) -> Void)?
    private var segmenter: PersonSegmenter?

    /// There is a camera at all (not in the simulator).
    static var available: Bool {
        device(front: true) != nil || device(front: false) != nil
    }

    /// Both a front and a back camera: flipping makes sense.
    static var canFlip: Bool {
        device(front: true) != nil && device(front: false) != nil
    }

    /// Pictures go to `sink` (on the camera's queue), with the person mask while `segmentPerson`
    /// is on (nil otherwise, or when Vision failed); nil stops sending (the preview goes on).
    func setSink(_ sink: ((I420Frame, PersonMask?) -> Void)?) {
        queue.async { self.sink = sink }
    }

    /// Computes a person mask for every picture (for a blurred or replaced background), or stops.
    func segmentPerson(_ on: Bool) {
        queue.async {
            if !on {
                self.segmenter = nil
            } else if self.segmenter == nil {
                self.segmenter = PersonSegmenter()
            }
        }
    }

    /// Starts the camera facing `front` (switching if it runs with the other one), or stops it.
    func run(_ on: Bool, front: Bool) {
        queue.async {
            guard on else {
                if self.session.isRunning { self.session.stopRunning() }
                return
            }
            self.configure(front: front)
            if !self.session.isRunning { self.session.startRunning() }
        }
    }

    private static func device(front: Bool) -> AVCaptureDevice? {
        AVCaptureDevice.default(.builtInWideAngleCamera, for: .video, position: front ? .front : .back)
    }

    private func configure(front: Bool) {
        // The camera asked for, else the other one (a device with only one camera).
        guard let device = Self.device(front: front) ?? Self.device(front: !front) else { return }
        // Already running with it (also when only the other camera exists: no reconfiguring).
        if input?.device.uniqueID == device.uniqueID { return }
        guard let newInput = try? AVCaptureDeviceInput(device: device) else { return }

        session.beginConfiguration()
        if let input { session.removeInput(input) }
        guard session.canAddInput(newInput) else {
            // Keep the camera there was rather than none.
            if let input, session.canAddInput(input) { session.addInput(input) }
            session.commitConfiguration()
            return
        }
        session.addInput(newInput)
        input = newInput
        session.sessionPreset = session.canSetSessionPreset(.hd1280x720) ? .hd1280x720 : .high
        if !outputAdded, session.canAddOutput(output) {
            output.videoSettings = [
                kCVPixelBufferPixelFormatTypeKey as String: kCVPixelFormatType_420YpCbCr8BiPlanarFullRange
            ]
            // A late picture is dropped, never queued: the call wants the newest.
            output.alwaysDiscardsLateVideoFrames = true
            output.setSampleBufferDelegate(self, queue: queue)
            session.addOutput(output)
            outputAdded = true
        }
        if let connection = output.connection(with: .video) {
            // Upright for a phone held in portrait; the far side sees me unmirrored.
            if #available(iOS 17.0, *) {
                if connection.isVideoRotationAngleSupported(90) { connection.videoRotationAngle = 90 }
            } else if connection.isVideoOrientationSupported {
                connection.videoOrientation = .portrait
            }
            if connection.isVideoMirroringSupported {
                connection.automaticallyAdjustsVideoMirroring = false
                connection.isVideoMirrored = false
            }
        }
        session.commitConfiguration()
        // After the commit: adding an input or changing the preset resets the frame durations.
        limitFrameRate(of: device, to: Double(CaptureFormat.maxFps), atLeast: 24)
    }

    /// At most `fps` pictures a second (down to `atLeast` in low light), when one of the
    /// device's frame-rate ranges allows both: a duration outside them raises.
    private func limitFrameRate(of device: AVCaptureDevice, to fps: Double, atLeast minimum: Double) {
        let supported = device.activeFormat.videoSupportedFrameRateRanges.contains {
            $0.minFrameRate <= minimum && fps <= $0.maxFrameRate
        }
        guard supported, (try? device.lockForConfiguration()) != nil else { return }
        device.activeVideoMinFrameDuration = CMTime(value: 1, timescale: CMTimeScale(fps))
        device.activeVideoMaxFrameDuration = CMTime(value: 1, timescale: CMTimeScale(minimum))
        device.unlockForConfiguration()
    }

    func captureOutput(
        _ output: AVCaptureOutput, didOutput sampleBuffer: CMSampleBuffer, from connection: AVCaptureConnection
    ) {
        guard let sink, let pixels = CMSampleBufferGetImageBuffer(sampleBuffer) else { return }
        CVPixelBufferLockBaseAddress(pixels, .readOnly)
        defer { CVPixelBufferUnlockBaseAddress(pixels, .readOnly) }
        guard CVPixelBufferGetPlaneCount(pixels) == 2,
              let yBase = CVPixelBufferGetBaseAddressOfPlane(pixels, 0),
              let cbcrBase = CVPixelBufferGetBaseAddressOfPlane(pixels, 1)
        else { return }
        let format = CVPixelBufferGetPixelFormatType(pixels)
        let yRow = CVPixelBufferGetBytesPerRowOfPlane(pixels, 0)
        let cbcrRow = CVPixelBufferGetBytesPerRowOfPlane(pixels, 1)
        let time = CMSampleBufferGetPresentationTimeStamp(sampleBuffer)
        let frame = NV12.i420(
            width: CVPixelBufferGetWidthOfPlane(pixels, 0),
            height: CVPixelBufferGetHeightOfPlane(pixels, 0),
            y: NV12.Plane(
                bytes: UnsafeRawBufferPointer(start: yBase, count: yRow * CVPixelBufferGetHeightOfPlane(pixels, 0)),
                bytesPerRow: yRow),
            cbcr: NV12.Plane(
                bytes: UnsafeRawBufferPointer(start: cbcrBase, count: cbcrRow * CVPixelBufferGetHeightOfPlane(pixels, 1)),
                bytesPerRow: cbcrRow),
            range: format == kCVPixelFormatType_420YpCbCr8BiPlanarFullRange ? .full : .video,
            timestampUs: time.isValid ? Int64(CMTimeGetSeconds(time) * 1_000_000) : 0)
        if let frame { sink(frame, segmenter?.mask(of: pixels)) }
    }
}
