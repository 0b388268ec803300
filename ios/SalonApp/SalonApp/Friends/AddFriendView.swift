import AVFoundation
import CoreImage.CIFilterBuiltins
import SalonCore
import SwiftUI

/// The add-a-friend sheet, wired to its model; `onDone` closes it (after an add, or Cancel).
/// `card`: a card the app was opened with, filled in and added only when I tap Add (any web page
/// can open a link, and a friend's server learns my address whenever I watch their door).
struct AddFriendRoute: View {
    @StateObject private var model: AddFriendModel
    private let onDone: () -> Void
    private let card: String?

    init(salon: any SalonService, myName: String, card: String? = nil, onDone: @escaping () -> Void) {
        _model = StateObject(wrappedValue: AddFriendModel(salon: salon, myName: myName))
        self.card = card
        self.onDone = onDone
    }

    var body: some View {
        AddFriendView(state: model.state, send: model.send, onCancel: onDone)
            .onAppear {
                // `onDone` alone, not the view: the model keeps this closure (no cycle through it).
                model.onAdded = { [onDone] _ in onDone() }
                model.send(.appeared)
                if let card { model.send(.textChanged(card)) }
            }
    }
}

struct AddFriendView: View {
    let state: AddFriendState
    let send: (AddFriendEvent) -> Void
    let onCancel: () -> Void

    var body: some View {
        NavigationStack {
            Form {
                Section {
                    TextField("Friend card or room link", text: Binding(get: { state.text }, set: { send(.textChanged($0)) }))
                        .textInputAutocapitalization(.never)
                        .autocorrectionDisabled()
                    if state.needsName {
                        TextField("Their name", text: Binding(get: { state.name }, set: { send(.nameChanged($0)) }))
                    }
                    Button("Scan their QR code") { send(.startScanning) }
                } header: {
                    Text("Add a friend")
                } footer: {
                    Text("Paste the card or link they sent you, or scan the QR code on their phone.")
                }
                if let error = state.error {
                    Section {
                        Text(error).foregroundStyle(.red).onTapGesture { send(.dismissError) }
                    }
                }
                Section("My card") {
                    if state.myRooms.isEmpty {
                        Text("Your card needs one of your rooms: create a room first.").foregroundStyle(.secondary)
                    } else {
                        if state.myRooms.count > 1 {
                            Picker("Room", selection: Binding(
                                get: { state.selectedRoom ?? "" }, set: { send(.chooseRoom(link: $0)) })
                            ) {
                                ForEach(state.myRooms) { Text($0.name).tag($0.link) }
                            }
                        }
                        if let card = state.myCard {
                            QRCode(text: card)
                                .frame(maxWidth: 240, maxHeight: 240)
                                .frame(maxWidth: .infinity)
                            ShareLink(item: card, subject: Text("My Salon card"), message: Text("Add me on Salon")) {
                                Label("Share my card", systemImage: "square.and.arrow.up")
                            }
                        } else if state.loadingCard {
                            ProgressView().frame(maxWidth: .infinity)
                        }
                    }
                }
            }
            .navigationTitle("Add a friend")
            .navigationBarTitleDisplayMode(.inline)
            .toolbar {
                ToolbarItem(placement: .cancellationAction) { Button("Cancel", action: onCancel) }
                ToolbarItem(placement: .confirmationAction) {
                    if state.adding {
                        ProgressView()
                    } else {
                        Button("Add") { send(.add) }.disabled(!state.canAdd)
                    }
                }
            }
            .sheet(isPresented: Binding(get: { state.scanning }, set: { if !$0 { send(.stopScanning) } })) {
                QRScanner(onCode: { send(.scanned($0)) }, onFailure: { send(.scannerFailed($0)) })
                    .ignoresSafeArea()
            }
        }
    }
}

/// A QR code of `text`, drawn sharp at any size.
struct QRCode: View {
    let text: String

    var body: some View {
        if let image = Self.image(text) {
            Image(decorative: image, scale: 1)
                .interpolation(.none)
                .resizable()
                .scaledToFit()
        } else {
            Text("Couldn't draw the QR code").foregroundStyle(.secondary)
        }
    }

    private static func image(_ text: String) -> CGImage? {
        let filter = CIFilter.qrCodeGenerator()
        filter.message = Data(text.utf8)
        filter.correctionLevel = "M"
        guard let output = filter.outputImage else { return nil }
        return CIContext().createCGImage(output, from: output.extent)
    }
}

/// Reads QR codes with the back camera (`AVCaptureMetadataOutput`); each code goes to `onCode`.
/// No camera, or no permission: `onFailure` says so.
struct QRScanner: UIViewControllerRepresentable {
    let onCode: (String) -> Void
    let onFailure: (String) -> Void

    func makeUIViewController(context: Context) -> ScannerController {
        let controller = ScannerController()
        controller.onCode = onCode
        controller.onFailure = onFailure
        return controller
    }

    func updateUIViewController(_ controller: ScannerController, context: Context) {}

    final class ScannerController: UIViewController, AVCaptureMetadataOutputObjectsDelegate {
        var onCode: (String) -> Void = { _ in }
        var onFailure: (String) -> Void = { _ in }
        private let session = AVCaptureSession()
        private let queue = DispatchQueue(label: "org.salon.qr-scanner")

        override func viewDidLoad() {
            super.viewDidLoad()
            view.backgroundColor = .black
            Task { @MainActor in
                switch AVCaptureDevice.authorizationStatus(for: .video) {
                case .authorized: setUp()
                case .notDetermined:
                    if await AVCaptureDevice.requestAccess(for: .video) { setUp() } else { refused() }
                default: refused()
                }
            }
        }

        private func refused() {
            onFailure("Salon isn't allowed to use the camera: allow it in Settings, or paste the card instead.")
        }

        private func setUp() {
            guard let device = AVCaptureDevice.default(.builtInWideAngleCamera, for: .video, position: .back),
                  let input = try? AVCaptureDeviceInput(device: device), session.canAddInput(input)
            else {
                onFailure("There is no camera to scan with: paste the card instead.")
                return
            }
            session.addInput(input)
            let output = AVCaptureMetadataOutput()
            guard session.canAddOutput(output) else { return }
            session.addOutput(output)
            output.setMetadataObjectsDelegate(self, queue: .main)
            output.metadataObjectTypes = [.qr]
            let preview = AVCaptureVideoPreviewLayer(session: session)
            preview.videoGravity = .resizeAspectFill
            preview.frame = view.layer.bounds
            view.layer.addSublayer(preview)
            queue.async { [session] in session.startRunning() }
        }

        override func viewDidLayoutSubviews() {
            super.viewDidLayoutSubviews()
            view.layer.sublayers?.forEach { $0.frame = view.layer.bounds }
        }

        override func viewWillDisappear(_ animated: Bool) {
            super.viewWillDisappear(animated)
            queue.async { [session] in session.stopRunning() }
        }

        func metadataOutput(
            _ output: AVCaptureMetadataOutput, didOutput objects: [AVMetadataObject], from connection: AVCaptureConnection
        ) {
            guard let code = objects.compactMap({ ($0 as? AVMetadataMachineReadableCodeObject)?.stringValue }).first
            else { return }
            onCode(code)
        }
    }
}
