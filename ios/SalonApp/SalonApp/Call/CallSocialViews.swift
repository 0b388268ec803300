import SalonCore
import SwiftUI

// The call screen's reactions, raised hands and chat (issue 14); mirrors the Android
// CallSocial.kt. People's text is shown with `Text(verbatim:)`: never Markdown, never a link.

enum CallSocialText {
    /// What stands in for a message this link cannot open.
    static let cantRead = "Can't be read with this link"
    /// What a guest sees instead of the chat field during panic.
    static let chatPaused = "Chat is paused by a host"
}

/// "React" (the eight reactions in a menu), my hand ("Raise hand" / "Lower hand", prominent while
/// up) and "Chat" with the number of unread messages; my own reaction floats above (I have no tile).
struct SocialControls: View {
    let state: CallState
    let send: (CallEvent) -> Void

    var body: some View {
        let live = state.status == .live
        HStack(spacing: 12) {
            Menu {
                ForEach(state.reactions, id: \.self) { emoji in
                    Button { send(.react(emoji)) } label: { Text(verbatim: emoji) }
                }
            } label: {
                Label("React", systemImage: "face.smiling")
            }
            .disabled(!live || state.chatPaused)
            .overlay(alignment: .top) {
                if let mine = state.myReaction {
                    FloatingReaction(reaction: mine).offset(y: -36)
                }
            }
            if state.handRaised {
                Button { send(.toggleHand) } label: { Label("Lower hand", systemImage: "hand.raised.fill") }
                    .buttonStyle(.borderedProminent)
                    .disabled(!live)
            } else {
                Button { send(.toggleHand) } label: { Label("Raise hand", systemImage: "hand.raised") }
                    .disabled(!live)
            }
            Button { send(.openChat) } label: {
                Label(state.unread > 0 ? "Chat (\(state.unread))" : "Chat", systemImage: "bubble.left")
            }
            .accessibilityLabel(state.unread > 0 ? "Chat, \(state.unread) unread" : "Chat")
        }
        .buttonStyle(.bordered)
        .labelStyle(.titleOnly)
    }
}

/// A reaction rising and fading for `CallModel.reactionSeconds`; a new one starts again.
struct FloatingReaction: View {
    let reaction: Floating
    @State private var risen = false

    var body: some View {
        Text(verbatim: reaction.emoji)
            .font(.system(size: 40))
            .offset(y: risen ? -40 : 0)
            .opacity(risen ? 0.2 : 1)
            .id(reaction.seq)
            .onAppear {
                risen = false
                withAnimation(.linear(duration: CallModel.reactionSeconds)) { risen = true }
            }
            .accessibilityLabel("Reaction \(reaction.emoji)")
    }
}

/// On the tile of someone whose hand is up: a hand and their place in the queue.
struct HandBadge: View {
    let position: Int

    var body: some View {
        Label("\(position)", systemImage: "hand.raised.fill")
            .font(.caption.weight(.semibold))
            .padding(.horizontal, 8)
            .padding(.vertical, 3)
            .background(Color.yellow, in: Capsule())
            .foregroundStyle(.black)
            .accessibilityLabel("Hand raised, number \(position) in the queue")
    }
}

/// (Hosts) the raised hands in the order they went up, each to lower, and "Lower all".
struct HandsQueue: View {
    let hands: [RaisedHand]
    let send: (CallEvent) -> Void

    var body: some View {
        VStack(alignment: .leading, spacing: 4) {
            HStack {
                Text("Raised hands").font(.subheadline.weight(.semibold))
                Spacer()
                Button("Lower all") { send(.lowerAllHands) }
            }
            ForEach(hands) { hand in
                HStack {
                    Text(verbatim: "\(hand.position). \(hand.name)")
                    Spacer()
                    Button("Lower") { send(hand.mine ? .toggleHand : .lowerHand(participantId: hand.participantId)) }
                }
            }
        }
        .padding(.horizontal)
    }
}

/// The chat: messages oldest first with the newest at the bottom, each with its sender's name and
/// its text as plain text (`cantRead` for one this link cannot open); the field (at most
/// `maxChatCharacters`) and Send, or `chatPaused` for a guest during panic; the owner's "Clear chat".
struct ChatSheet: View {
    let state: CallState
    let send: (CallEvent) -> Void

    var body: some View {
        NavigationStack {
            VStack(spacing: 0) {
                if state.chat.isEmpty {
                    Spacer()
                    Text("No messages yet.").foregroundStyle(.secondary)
                    Spacer()
                } else {
                    ScrollViewReader { scroller in
                        List(state.chat) { line in
                            VStack(alignment: .leading, spacing: 2) {
                                Text(verbatim: line.name)
                                    .font(.caption.weight(.bold))
                                    .foregroundStyle(line.mine ? Color.accentColor : Color.primary)
                                if let text = line.text {
                                    Text(verbatim: text)
                                } else {
                                    Text(CallSocialText.cantRead).italic().foregroundStyle(.secondary)
                                }
                            }
                            .id(line.id)
                        }
                        .listStyle(.plain)
                        .onAppear { scroller.scrollTo(state.chat.last?.id, anchor: .bottom) }
                        .onChange(of: state.chat.last?.id) { last in scroller.scrollTo(last, anchor: .bottom) }
                    }
                }
                Divider()
                if state.chatPaused {
                    Text(CallSocialText.chatPaused).foregroundStyle(.secondary).padding()
                } else {
                    HStack {
                        TextField("Message", text: Binding(get: { state.chatDraft }, set: { send(.chatDraft($0)) }), axis: .vertical)
                            .lineLimit(1...4)
                            .textFieldStyle(.roundedBorder)
                            .onSubmit { send(.sendChat) }
                        Button("Send") { send(.sendChat) }
                            .buttonStyle(.borderedProminent)
                            .disabled(state.chatDraft.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty || state.status != .live)
                    }
                    .padding()
                    if state.chatDraft.count > maxChatCharacters - 100 {
                        Text("\(state.chatDraft.count) / \(maxChatCharacters)").font(.caption).foregroundStyle(.secondary)
                    }
                }
            }
            .navigationTitle("Chat")
            .navigationBarTitleDisplayMode(.inline)
            .toolbar {
                ToolbarItem(placement: .cancellationAction) { Button("Close") { send(.closeChat) } }
                if state.canClearChat && !state.chat.isEmpty {
                    ToolbarItem(placement: .destructiveAction) {
                        Button("Clear chat", role: .destructive) { send(.clearChat) }
                    }
                }
            }
        }
    }
}
