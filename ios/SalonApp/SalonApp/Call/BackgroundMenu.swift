import PhotosUI
import SalonCore
import SwiftUI

/// What goes behind me in my video: nothing, a blur, or a photo of mine. The core composites it
/// on its encoder thread with Vision's person mask (`CallMedia.setBackground`,
/// `PersonSegmenter`); my own small preview still shows the camera as it is.
struct BackgroundMenu: View {
    let current: Background
    let choose: (Background) -> Void
    @State private var photo: PhotosPickerItem?

    var body: some View {
        Menu {
            Picker("Background", selection: Binding(get: { current }, set: choose)) {
                Text("No effect").tag(Background.off)
                Text("Blur").tag(Background.blur)
            }
            PhotosPicker(selection: $photo, matching: .images) {
                if case .picture = current {
                    Label("Another photo…", systemImage: "checkmark")
                } else {
                    Text("Photo…")
                }
            }
        } label: {
            Image(systemName: current == .off ? "person.crop.rectangle" : "person.and.background.dotted")
                .padding(8)
                .background(.thinMaterial, in: Circle())
        }
        .accessibilityLabel("Background")
        .onChange(of: photo) { item in
            guard let item else { return }
            Task {
                // Decoding and scaling a large photo takes a moment: off the main actor.
                guard let data = try? await item.loadTransferable(type: Data.self),
                      let picture = await Task.detached(operation: { BackgroundPicture.frame(from: data) }).value
                else { return }
                choose(.picture(picture))
                photo = nil
            }
        }
    }
}
