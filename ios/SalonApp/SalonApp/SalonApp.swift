import SalonCore
import SwiftUI
import UIKit
import UserNotifications

/// Two screens, as on Android: the rooms (mine and my friends'), and a call pushed on top of it.
@main
struct SalonApp: App {
    /// The app's one service, or why it could not open its data.
    private let salon: Result<any SalonService, Error> = Result { try Self.openSalon() }

    var body: some Scene {
        WindowGroup {
            switch salon {
            case let .success(salon):
                RootView(salon: salon, myName: UIDevice.current.name)
            case let .failure(error):
                Text("Salon could not open its data: \(error.localizedDescription)").padding()
            }
        }
    }

    /// The local database lives in Application Support. Opening it is a quick disk operation.
    private static func openSalon() throws -> any SalonService {
        let support = try FileManager.default.url(
            for: .applicationSupportDirectory, in: .userDomainMask, appropriateFor: nil, create: true)
        let directory = support.appendingPathComponent("salon", isDirectory: true)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return try RustSalonService(dataDirectory: directory)
    }
}

/// Where a drop-in goes: a friend's room.
struct CallTarget: Hashable {
    let link: String
    let title: String
}

/// The screens pushed over the rooms: a room's pre-join screen, then its call.
enum Route: Hashable {
    case preJoin(CallTarget)
    case call(JoinedCall)
}

struct RootView: View {
    let salon: any SalonService
    let myName: String
    @State private var path: [Route] = []
    /// A friend card the app was opened with, until the rooms screen has added the friend.
    @State private var card: String?

    var body: some View {
        NavigationStack(path: $path) {
            FriendsRoute(
                salon: salon,
                onDropIn: { friend in path.append(.preJoin(CallTarget(link: friend.roomLink, title: friend.name))) },
                onEnterMyRoom: { room in path.append(.preJoin(CallTarget(link: room.link, title: room.name))) },
                myName: myName,
                onDoorOpened: DoorNotifications.show,
                card: card,
                onCardHandled: { card = nil })
            .navigationDestination(for: Route.self) { route in
                switch route {
                case let .preJoin(target):
                    PreJoinRoute(salon: salon, target: target, defaultName: myName) { joined in
                        // The call takes the pre-join screen's place: leaving goes back to the rooms.
                        if !path.isEmpty { path.removeLast() }
                        path.append(.call(joined))
                    }
                case let .call(joined):
                    CallRoute(salon: salon, joined: joined) {
                        if !path.isEmpty { path.removeLast() }
                    }
                }
            }
        }
        // Universal Links (and a cold start from one): an invite link joins its room, a friend
        // card goes to the rooms screen, which adds the friend (`Links.swift`).
        .onOpenURL { url in
            switch OpenedLink(url) {
            case let .room(link, host)?:
                path.append(.preJoin(CallTarget(link: link, title: host)))
            case let .friend(text)?:
                path.removeAll()
                card = text
            case nil:
                break
            }
        }
    }
}

/// Local notifications for "door opened" (the core rate-limits them per friend). The first one
/// asks for permission; without it nothing is shown and the rooms screen's banner still says it.
enum DoorNotifications {
    static func show(_ text: String) {
        let center = UNUserNotificationCenter.current()
        center.requestAuthorization(options: [.alert, .sound]) { granted, _ in
            guard granted else { return }
            let content = UNMutableNotificationContent()
            content.title = text
            content.body = "Tap to drop in"
            center.add(UNNotificationRequest(identifier: UUID().uuidString, content: content, trigger: nil))
        }
    }
}
