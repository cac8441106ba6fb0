import Glibc

/// A one-line live progress bar on stderr (redrawn with \r on a terminal, one line per update otherwise).
struct ProgressBar {
    let total: Int
    let label: String
    let isTTY = isatty(2) == 1
    var lastDraw = 0.0
    let width = 28

    init(total: Int, label: String) { self.total = total; self.label = label }

    mutating func update(_ done: Int, _ status: String, force: Bool = false) {
        let now = MonotonicTime.now()
        guard isTTY else {
            if force { eprint("\(label) \(done)/\(total) \(status)\n") }
            return
        }
        guard force || now - lastDraw > 0.1 else { return }
        lastDraw = now
        let frac = total > 0 ? Double(done) / Double(total) : 1
        let filled = Int(frac * Double(width))
        let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled)
        eprint("\r\(label) \(bar) \(done)/\(total) \(status)\u{1B}[K")
        if force { eprint("\n") }
    }
}

import Gradus

func fmt(_ x: Double, _ digits: Int = 4) -> String {
    guard x.isFinite else { return "\(x)" }
    var p = 1.0
    for _ in 0..<digits { p *= 10 }
    let r = (x * p).rounded() / p
    var s = "\(r)"
    if let dot = s.firstIndex(of: "."), s.distance(from: dot, to: s.endIndex) - 1 < digits, !s.contains("e") {
        s += String(repeating: "0", count: digits - s.distance(from: dot, to: s.endIndex) + 1)
    }
    return s
}

/// Writes to standard error (the C `stderr` global is not concurrency-safe in Swift 6).
func eprint(_ text: String) {
    var t = text
    t.withUTF8 { buf in _ = Glibc.write(2, buf.baseAddress, buf.count) }
}
