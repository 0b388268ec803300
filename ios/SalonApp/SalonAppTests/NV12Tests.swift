import SalonCore
import XCTest

@testable import SalonApp

/// NV12 (padded rows, interleaved chroma) to I420 and back, over synthetic planes.
final class NV12Tests: XCTestCase {
    /// A 4×2 picture whose rows are padded to 8 bytes, chroma rows too.
    private let y: [UInt8] = [
        1, 2, 3, 4, 0xEE, 0xEE, 0xEE, 0xEE,
        5, 6, 7, 8, 0xEE, 0xEE, 0xEE, 0xEE,
    ]
    private let cbcr: [UInt8] = [10, 20, 11, 21, 0xEE, 0xEE, 0xEE, 0xEE]

    private func convert(
        width: Int, height: Int, y: [UInt8], yRow: Int, cbcr: [UInt8], cbcrRow: Int, range: NV12.Range
    ) -> I420Frame? {
        y.withUnsafeBytes { yBytes in
            cbcr.withUnsafeBytes { cBytes in
                NV12.i420(
                    width: width, height: height,
                    y: NV12.Plane(bytes: yBytes, bytesPerRow: yRow),
                    cbcr: NV12.Plane(bytes: cBytes, bytesPerRow: cbcrRow),
                    range: range, timestampUs: 42)
            }
        }
    }

    func testPaddedVideoRangePlanesAreCopiedAndDeinterleaved() throws {
        let frame = try XCTUnwrap(convert(width: 4, height: 2, y: y, yRow: 8, cbcr: cbcr, cbcrRow: 8, range: .video))
        XCTAssertEqual(frame.width, 4)
        XCTAssertEqual(frame.height, 2)
        XCTAssertEqual(frame.timestampUs, 42)
        XCTAssertEqual([UInt8](frame.data), [1, 2, 3, 4, 5, 6, 7, 8, /* U */ 10, 11, /* V */ 20, 21])
    }

    func testFullRangeIsScaledIntoVideoRange() throws {
        let y: [UInt8] = [0, 255, 128, 64]
        let cbcr: [UInt8] = [0, 255]
        let frame = try XCTUnwrap(convert(width: 2, height: 2, y: y, yRow: 2, cbcr: cbcr, cbcrRow: 2, range: .full))
        // Y: 16 + v * 219 / 255; C: 128 + (v - 128) * 224 / 255.
        XCTAssertEqual([UInt8](frame.data), [16, 235, 126, 71, 16, 240])
        XCTAssertEqual(NV12.fullToVideoChroma[128], 128)
    }

    func testAnOddSizeLosesItsLastColumnAndRow() throws {
        // 5×3, rows of 6 bytes; chroma: 3 pairs per row (for 6 columns), 2 rows.
        let y: [UInt8] = Array(0..<18)
        let cbcr: [UInt8] = [100, 200, 101, 201, 102, 202, 110, 210, 111, 211, 112, 212]
        let frame = try XCTUnwrap(convert(width: 5, height: 3, y: y, yRow: 6, cbcr: cbcr, cbcrRow: 6, range: .video))
        XCTAssertEqual(frame.width, 4)
        XCTAssertEqual(frame.height, 2)
        XCTAssertEqual([UInt8](frame.data), [0, 1, 2, 3, 6, 7, 8, 9, 100, 101, 200, 201])
    }

    func testPlanesTooSmallOrRowsTooShortAreRefused() {
        XCTAssertNil(convert(width: 4, height: 2, y: Array(y.prefix(11)), yRow: 8, cbcr: cbcr, cbcrRow: 8, range: .video))
        XCTAssertNil(convert(width: 4, height: 2, y: y, yRow: 3, cbcr: cbcr, cbcrRow: 8, range: .video))
        XCTAssertNil(convert(width: 4, height: 2, y: y, yRow: 8, cbcr: [10, 20, 11], cbcrRow: 8, range: .video))
        XCTAssertNil(convert(width: 0, height: 2, y: y, yRow: 8, cbcr: cbcr, cbcrRow: 8, range: .video))
        XCTAssertNil(convert(width: 1, height: 1, y: y, yRow: 8, cbcr: cbcr, cbcrRow: 8, range: .video))
    }

    func testAnI420PictureIsWrittenIntoPaddedNV12Planes() {
        let frame = I420Frame(width: 4, height: 2, data: Data([1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 20, 21]), timestampUs: 0)
        var y = [UInt8](repeating: 0xEE, count: 16)
        var cbcr = [UInt8](repeating: 0xEE, count: 8)
        let written = y.withUnsafeMutableBytes { yBytes in
            cbcr.withUnsafeMutableBytes { cBytes in
                NV12.write(frame, y: yBytes, yBytesPerRow: 8, cbcr: cBytes, cbcrBytesPerRow: 8)
            }
        }
        XCTAssertTrue(written)
        XCTAssertEqual(y, self.y)
        XCTAssertEqual(cbcr, self.cbcr)

        // A malformed frame writes nothing.
        let short = I420Frame(width: 4, height: 2, data: Data([1, 2, 3]), timestampUs: 0)
        var untouched = [UInt8](repeating: 0, count: 16)
        let refused = untouched.withUnsafeMutableBytes { yBytes in
            cbcr.withUnsafeMutableBytes { NV12.write(short, y: yBytes, yBytesPerRow: 8, cbcr: $0, cbcrBytesPerRow: 8) }
        }
        XCTAssertFalse(refused)
        XCTAssertEqual(untouched, [UInt8](repeating: 0, count: 16))
    }
}
