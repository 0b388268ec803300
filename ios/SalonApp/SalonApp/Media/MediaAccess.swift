import AVFoundation
import UIKit

/// The system's camera and microphone permissions, for the pre-join screen's model.
@MainActor
final class MediaAccess: MediaAccessing {
    func permission(_ device: MediaDevice) -> MediaPermission {
        switch AVCaptureDevice.authorizationStatus(for: device == .camera ? .video : .audio) {
        case .notDetermined: return .notAsked
        case .authorized: return .granted
        case .denied: return .denied
        case .restricted: return .restricted
        @unknown default: return .denied
        }
    }

    func request(_ device: MediaDevice) async -> Bool {
        await AVCaptureDevice.requestAccess(for: device == .camera ? .video : .audio)
    }

    /// Salon's page in Settings, where a refused permission can be allowed.
    static func openSettings() {
        guard let url = URL(string: UIApplication.openSettingsURLString) else { return }
        UIApplication.shared.open(url)
    }
}
