import XCTest

@testable import SalonApp

/// Which path updates make the call restart ICE. The same cases as the Android
/// `NetworkChangePolicyTest`, as `NWPathMonitor` says them.
final class NetworkChangesTests: XCTestCase {
    private let wifi = NetworkPath(satisfied: true, interfaces: ["wifi en0", "cellular pdp_ip0"])
    private let cellular = NetworkPath(satisfied: true, interfaces: ["cellular pdp_ip0"])
    private let none = NetworkPath(satisfied: false, interfaces: [])

    func testTheFirstUpdateDescribesTheCurrentNetworkAndChangesNothing() {
        var policy = NetworkChangePolicy()
        XCTAssertFalse(policy.changed(to: wifi))
    }

    func testUpdatesWithTheSameInterfacesChangeNothing() {
        var policy = NetworkChangePolicy()
        _ = policy.changed(to: wifi)
        // Costs, constraints, DNS: the same path as far as the call can tell.
        XCTAssertFalse(policy.changed(to: wifi))
        XCTAssertFalse(policy.changed(to: wifi))
    }

    func testAnotherPreferredInterfaceOrAnotherSetIsAChange() {
        var policy = NetworkChangePolicy()
        _ = policy.changed(to: wifi)
        // Wi-Fi goes: mobile data only.
        XCTAssertTrue(policy.changed(to: cellular))
        XCTAssertFalse(policy.changed(to: cellular))
        // Wi-Fi comes back and is preferred again.
        XCTAssertTrue(policy.changed(to: wifi))
        // The same interfaces, mobile data preferred now (Wi-Fi Assist).
        XCTAssertTrue(policy.changed(to: NetworkPath(satisfied: true, interfaces: ["cellular pdp_ip0", "wifi en0"])))
        // A VPN comes up in front.
        XCTAssertTrue(policy.changed(to: NetworkPath(satisfied: true, interfaces: ["other utun3", "cellular pdp_ip0", "wifi en0"])))
    }

    func testNoRouteChangesNothingAndTheNextUsablePathDoesEvenTheSameOne() {
        var policy = NetworkChangePolicy()
        _ = policy.changed(to: wifi)
        XCTAssertFalse(policy.changed(to: none))
        XCTAssertFalse(policy.changed(to: none))
        XCTAssertTrue(policy.changed(to: wifi))
        // Unsatisfied with the interfaces still listed (no route through them yet).
        XCTAssertFalse(policy.changed(to: NetworkPath(satisfied: false, interfaces: wifi.interfaces)))
        XCTAssertTrue(policy.changed(to: wifi))
    }

    func testWithoutARouteAtStartTheFirstUsablePathIsAChange() {
        var policy = NetworkChangePolicy()
        XCTAssertFalse(policy.changed(to: none))
        XCTAssertTrue(policy.changed(to: cellular))
    }
}
