import CoreGraphics
import SalonCore

// The Apple-only part of the call screen's model: how a decoded picture becomes one a tile can
// draw. Kept out of CallModel.swift so that the model builds and is tested on Linux too, where
// ios/SalonCore/Linux/SalonApp/AppleOnly.swift stands in for this file.

/// A tile's latest picture, as SwiftUI's `Image(decorative:scale:)` draws it.
typealias TilePicture = CGImage

extension I420Frame {
    /// This decoded picture for a tile (real work: call it off the main actor).
    func tilePicture() throws -> TilePicture? {
        try cgImage()
    }
}
