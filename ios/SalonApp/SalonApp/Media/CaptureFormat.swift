import Foundation
import SalonCore

/// What the camera (`Camera.swift`) sends the core: the 1280×720 preset turned upright for a
/// phone held in portrait, so 720×1280 pictures, at up to 30 a second. The join options say the
/// same (`JoinOptions.camera`), so that the core's encoders start at the size the pictures come
/// in (it rebuilds an encoder for a picture of another size) and the bitrate suits it.
/// Foundation only.
enum CaptureFormat {
    static let width = 720
    static let height = 1280
    static let maxFps = 30
    /// For the full layer at 720×1280, 30 fps. The core also sends a half-size layer (360×640)
    /// at a quarter of it, 375 kb/s (the core's default, 800 kb/s, is for 640×360).
    static let bitrateBps = 1_500_000
}

extension JoinOptions {
    /// Options for a call whose video is the camera's (`CaptureFormat`).
    static func camera(name: String, microphoneOn: Bool, cameraOn: Bool) -> JoinOptions {
        JoinOptions(
            name: name, microphoneOn: microphoneOn, cameraOn: cameraOn,
            videoWidth: CaptureFormat.width, videoHeight: CaptureFormat.height,
            videoBitrateBps: CaptureFormat.bitrateBps, videoMaxFps: Float(CaptureFormat.maxFps))
    }
}
