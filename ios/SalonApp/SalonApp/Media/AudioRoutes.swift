import Foundation

/// Where call audio can play, as `AVAudioSession`'s route names its outputs (`CallAudio.swift`
/// maps the ports). Foundation only: the choice is tested on Linux.
enum AudioOutput: Equatable, Hashable {
    /// The loudspeaker at the bottom.
    case speaker
    /// The earpiece at the top (`builtInReceiver`).
    case receiver
    /// Wired headphones or a headset.
    case headphones
    /// AirPods and other Bluetooth (HFP, A2DP, LE).
    case bluetooth(name: String)
    case carAudio
    case airPlay(name: String)
    /// USB audio, HDMI, anything else external.
    case external(name: String)

    /// Something the person plugged in or paired: the system's choice is theirs, not ours.
    var isExternal: Bool {
        switch self {
        case .speaker, .receiver: return false
        default: return true
        }
    }
}

/// Which loudspeaker the call uses: a video call plays on the speaker (like FaceTime), unless
/// the person turned it to the earpiece, and always on headphones, Bluetooth or the car when one
/// is there. The glue applies `override` with `overrideOutputAudioPort`.
enum AudioRoutes {
    enum Override: Equatable {
        /// `.speaker`: force the loudspeaker.
        case speaker
        /// `.none`: let the route be (the earpiece, or whatever is plugged in).
        case none
    }

    /// What to apply after the route changed (a headset came or went) or the person toggled
    /// the speaker. `current` is the route's outputs now.
    static func override(current: [AudioOutput], earpieceChosen: Bool) -> Override {
        if current.contains(where: \.isExternal) { return .none }
        return earpieceChosen ? .none : .speaker
    }

    /// Whether the speaker/earpiece button makes sense: only the phone's own outputs are in play.
    static func canToggleSpeaker(current: [AudioOutput]) -> Bool {
        !current.contains(where: \.isExternal)
    }

    /// How the call screen names where audio goes.
    static func label(current: [AudioOutput]) -> String {
        for output in current {
            switch output {
            case let .bluetooth(name), let .airPlay(name), let .external(name):
                return name.isEmpty ? "External audio" : name
            case .headphones: return "Headphones"
            case .carAudio: return "Car"
            case .speaker, .receiver: continue
            }
        }
        return current.contains(.receiver) ? "Earpiece" : "Speaker"
    }
}

/// The microphone across an interruption (a phone or FaceTime call, an alarm, Siri): when it
/// begins the session stops and the microphone goes off, and the room is told so; when it ends
/// with "should resume", the microphone comes back on if it was on before. Foundation only.
struct MicInterruption: Equatable {
    private(set) var interrupted = false
    /// The microphone was on when the interruption began.
    private var wasOn = false

    enum Action: Equatable {
        /// Turn my microphone on or off in the call.
        case setMicrophone(Bool)
        /// Restart the audio engine (after an interruption ends, with or without the microphone).
        case restartAudio
    }

    /// An interruption began: what to do.
    mutating func began(microphoneOn: Bool) -> [Action] {
        guard !interrupted else { return [] }
        interrupted = true
        wasOn = microphoneOn
        return microphoneOn ? [.setMicrophone(false)] : []
    }

    /// It ended; `shouldResume` is the system's `AVAudioSession.InterruptionOptions.shouldResume`.
    /// Without it (another app took the audio for good) the audio restarts but the microphone
    /// stays off: the person turns it back on.
    mutating func ended(shouldResume: Bool) -> [Action] {
        guard interrupted else { return [] }
        interrupted = false
        defer { wasOn = false }
        return shouldResume && wasOn ? [.restartAudio, .setMicrophone(true)] : [.restartAudio]
    }

    /// The person turned the microphone on themselves meanwhile: nothing to restore later.
    mutating func microphoneChangedByPerson() {
        wasOn = false
    }

    /// The line shown while interrupted.
    var notice: String? {
        interrupted ? "Your microphone is paused during another call" : nil
    }
}
