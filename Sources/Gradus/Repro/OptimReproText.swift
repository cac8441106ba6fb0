import GradusRuntime
import GradusTensor
import GradusData

/// A byte-level text corpus for the small language-model reproduction: Debian's `fortunes` files (or any
/// file given), tokenised as bytes over the alphabet that occurs, split into train/validation by position.
struct OptimCharCorpus {
    /// Token ids (indices into `alphabet`).
    let tokens: [Int]
    /// The bytes of the vocabulary, by id.
    let alphabet: [UInt8]
    /// Where the text came from (file paths, or the built-in fallback).
    let source: String
    /// True when no file was found and the built-in string was used.
    let isFallback: Bool
    /// First token of the validation part (the last 10%).
    var validationStart: Int { tokens.count - Swift.max(1, tokens.count / 10) }

    var vocabularySize: Int { alphabet.count }

    /// The Debian `fortunes` / `fortunes-min` databases (text files; `.dat` indices are skipped).
    static let fortuneDirectory = "/usr/share/games/fortunes"
    static let fortuneFiles = ["fortunes", "literature", "riddles", "science", "wisdom", "people", "humorists",
                               "computers", "work", "platitudes", "education", "food", "law", "love", "magic",
                               "medicine", "men-women", "miscellaneous", "news", "paradoxum", "pets", "politics",
                               "songs-poems", "sports", "definitions", "linux", "goedel", "kids", "ethnic", "drugs",
                               "tao", "zippy", "startrek", "pratchett", "knghtbrd", "cookie", "debian"]

    /// A small built-in corpus, used only when no text file exists.
    static let fallbackText = """
        A journey of a thousand miles begins with a single step.
        %
        The best way to predict the future is to invent it.
        %
        Simplicity is prerequisite for reliability.
        %
        To iterate is human, to recurse divine.
        %
        Premature optimization is the root of all evil.
        %
        There are only two hard things in computer science: cache invalidation and naming things.
        %
        Any sufficiently advanced technology is indistinguishable from magic.
        %
        The purpose of computing is insight, not numbers.
        %
        Programs must be written for people to read, and only incidentally for machines to execute.
        %
        A good programmer is someone who always looks both ways before crossing a one-way street.
        %
        """

    /// Loads `path` (a file) when given, else the fortune files that exist (up to `maxBytes` in all), else the
    /// built-in fallback string.
    static func load(path: String?, maxBytes: Int = 2_000_000) throws(GradusError) -> OptimCharCorpus {
        var bytes: [UInt8] = []
        var used: [String] = []
        let candidates = path.map { [$0] } ?? fortuneFiles.map { "\(fortuneDirectory)/\($0)" }
        for file in candidates where FileIO.exists(file) && bytes.count < maxBytes {
            let content = try FileIO.readAll(file, maxBytes: maxBytes)
            bytes += content.prefix(maxBytes - bytes.count)
            used.append(file)
        }
        if path != nil && used.isEmpty { throw .notFound("text file '\(path!)' not found") }
        let fallback = used.isEmpty
        if fallback {
            let one = Array(fallbackText.utf8)
            while bytes.count < 40_000 { bytes += one }
        }
        var seen = [Bool](repeating: false, count: 256)
        for b in bytes { seen[Int(b)] = true }
        let alphabet = (0..<256).filter { seen[$0] }.map { UInt8($0) }
        var index = [Int](repeating: 0, count: 256)
        for (i, b) in alphabet.enumerated() { index[Int(b)] = i }
        let source = fallback ? "built-in fallback corpus (no fortunes files found)" : used.count == 1 ? used[0] : "\(fortuneDirectory) (\(used.count) files)"
        return OptimCharCorpus(tokens: bytes.map { index[Int($0)] }, alphabet: alphabet, source: source, isFallback: fallback)
    }

    /// `count` seeded batches of windows from the held-out tail (`validationStart...`), the same for every run
    /// of a reproduction that passes the same seed.
    func validationWindows(count: Int, batch: Int, length: Int, seed: UInt64) -> [(inputs: [Int], targets: [Int])] {
        var rng = PhiloxStream(seed: seed, stream: 1)
        return (0..<count).map { _ in windows(batch: batch, length: length, in: validationStart..<tokens.count, rng: &rng) }
    }

    /// `batch` windows of `length + 1` tokens starting at random positions in `range` (inputs and next-token
    /// targets), from the stream `rng`.
    func windows(batch: Int, length: Int, in range: Range<Int>, rng: inout PhiloxStream) -> (inputs: [Int], targets: [Int]) {
        var inputs: [Int] = [], targets: [Int] = []
        inputs.reserveCapacity(batch * length)
        targets.reserveCapacity(batch * length)
        let span = Swift.max(1, range.count - length - 1)
        for _ in 0..<batch {
            let s = range.lowerBound + rng.nextInt(below: span)
            inputs += tokens[s..<(s + length)]
            targets += tokens[(s + 1)..<(s + length + 1)]
        }
        return (inputs, targets)
    }
}
