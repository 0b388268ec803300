// Linux only (Package.swift's SalonApp target): what the app's Apple-only files and frameworks
// give the Foundation-only files compiled here, so that they build unchanged and their XCTests run.
// Nothing here is app logic; keep it to the names those files use.
import SalonCore

#if !canImport(Combine)
// Combine is missing on Linux: the models only need to compile, nothing observes them here.
protocol ObservableObject: AnyObject {}

@propertyWrapper
struct Published<Value> {
    var wrappedValue: Value
    init(wrappedValue: Value) { self.wrappedValue = wrappedValue }
}
#endif

// Call/CallPictures.swift (CoreGraphics): a tile's picture is the decoded frame itself here.
typealias TilePicture = I420Frame

extension I420Frame {
    func tilePicture() throws -> TilePicture? { self }
}

