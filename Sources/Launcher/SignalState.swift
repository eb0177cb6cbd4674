#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The signal mask and ignored signals the launcher was started with, restored just before `execve`.
///
/// `execve` keeps the calling thread's signal mask and every ignored signal. The launcher's last step runs on a
/// concurrency worker thread, which blocks nearly all signals, and NIO ignores SIGPIPE; without this restoration the
/// program would start unable to receive SIGTERM and deaf to SIGPIPE, unlike the same program started directly.
/// (The mask captured is the main thread's once the Swift runtime has started, which is normally empty.)
public struct SignalState: @unchecked Sendable {
    private var mask = sigset_t()
    private var ignored: [Int32] = []
    static let signalRange: ClosedRange<Int32> = 1...64

    /// The current thread's mask and the process's ignored signals. Capture it first thing, on the main thread.
    public static func capture() -> SignalState {
        var state = SignalState()
        sigemptyset(&state.mask)
        pthread_sigmask(SIG_SETMASK, nil, &state.mask)
        state.ignored = signalRange.filter { isIgnored($0) }
        return state
    }

    /// Sets the calling thread's mask back, and every signal ignored since the capture back to its default action.
    public func restore() {
        for signal in Self.signalRange where signal != SIGKILL && signal != SIGSTOP && !ignored.contains(signal) {
            if Self.isIgnored(signal) {
                var action = sigaction()
                action.__sigaction_handler.sa_handler = SIG_DFL
                sigemptyset(&action.sa_mask)
                sigaction(signal, &action, nil)
            }
        }
        var mask = self.mask
        pthread_sigmask(SIG_SETMASK, &mask, nil)
    }

    /// The signals blocked in the captured mask.
    public var blocked: [Int32] {
        var mask = self.mask
        return Self.signalRange.filter { sigismember(&mask, $0) == 1 }
    }

    public var ignoredSignals: [Int32] { ignored }

    private static func isIgnored(_ signal: Int32) -> Bool {
        var current = sigaction()
        guard sigaction(signal, nil, &current) == 0 else { return false }
        return unsafeBitCast(current.__sigaction_handler.sa_handler, to: Int.self) == unsafeBitCast(SIG_IGN, to: Int.self)
    }
}
