import GradusRuntime

/// Options shared by every reproduction.
public struct ReproOptions: Sendable {
    /// Base seed; reproductions derive every other seed from it.
    public var seed: UInt64 = 0
    /// Scales the work (steps, samples); 1 is the documented run of a few minutes on 2 cores. Tests use
    /// small values to check the plumbing quickly. Must pass `validate()` (the CLI checks it before running).
    public var scale: Double = 1
    /// Where to write plots and images (SVG/PNG); nil writes nothing.
    public var outputDirectory: String? = "."
    /// Directory of Fashion-MNIST IDX files.
    public var fashionMNISTDirectory = "/usr/share/datasets/fashion-mnist"
    /// Text corpus for the language-model reproductions (Debian's fortunes when nil).
    public var textPath: String? = nil
    /// The comparison arms to run, by the names the reproduction's `arms` lists; nil runs them all. A
    /// reproduction run with fewer arms reports only the claims whose arms all ran. This is how one arm gets
    /// the paper's full budget without paying it for the others (e.g. `--arm stablemax --scale 53.34`).
    public var arms: [String]? = nil

    public init() {}

    /// Throws `invalidArgument` unless `scale` is finite and in (0, 100] (reproductions convert scaled counts
    /// to integers, which traps on NaN, ∞ or overflow).
    public func validate() throws(GradusError) {
        guard scale.isFinite, scale > 0, scale <= 100 else { throw .invalidArgument("scale must be in (0, 100] (got \(scale))") }
    }

    /// `validate()`, and every name in `arms` is one of `reproduction.arms` (which must then not be empty).
    public func validate(for reproduction: any Reproduction.Type) throws(GradusError) {
        try validate()
        guard let arms else { return }
        let available = reproduction.arms
        guard !available.isEmpty else { throw .invalidArgument("reproduction '\(reproduction.name)' has no arms to select") }
        guard !arms.isEmpty else { throw .invalidArgument("no arm selected; '\(reproduction.name)' has \(available.joined(separator: ", "))") }
        for a in arms where !available.contains(a) {
            throw .invalidArgument("unknown arm '\(a)' of '\(reproduction.name)'; it has \(available.joined(separator: ", "))")
        }
    }

    /// Whether arm `name` runs: it is selected, or no selection was made.
    public func runs(arm name: String) -> Bool { arms?.contains(name) ?? true }

    /// `n` scaled, at least `minimum`.
    public func scaled(_ n: Int, minimum: Int = 1) -> Int { Swift.max(minimum, Int((Double(n) * scale).rounded())) }
}

/// A printable table of a reproduction's results.
public struct ReproTable: Sendable {
    public var title: String
    public var header: [String]
    public var rows: [[String]]
    public init(title: String, header: [String], rows: [[String]] = []) { self.title = title; self.header = header; self.rows = rows }
}

/// What a reproduction found: tables for people, a JSON object for machines, and the paper's claims
/// checked on this run.
public struct ReproReport: Sendable {
    public var name: String
    public var tables: [ReproTable] = []
    /// Metrics (one JSON object).
    public var metrics: [String: JSON] = [:]
    /// Each claim of the paper and whether this run supports it.
    public var claims: [(claim: String, holds: Bool)] = []
    /// Files written (plots, image grids).
    public var files: [String] = []
    public init(name: String) { self.name = name }

    public var json: JSON {
        var o = metrics
        o["name"] = .string(name)
        o["claims"] = .array(claims.map { .object(["claim": .string($0.claim), "holds": .bool($0.holds)]) })
        o["files"] = .array(files.map { .string($0) })
        return .object(o)
    }
}

/// A seeded, few-minute experiment that reproduces a paper's comparison (`gradus repro <name>`).
public protocol Reproduction {
    /// The CLI name, e.g. `diffgrad-synthetic`.
    static var name: String { get }
    /// One line: what is compared.
    static var summary: String { get }
    /// Runs it; `log` receives progress lines.
    static func run(_ options: ReproOptions, log: (String) -> Void) throws(GradusError) -> ReproReport
    /// Names of the arms `ReproOptions.arms` can select; empty (the default) when it runs as one piece.
    static var arms: [String] { get }
}

extension Reproduction {
    public static var arms: [String] { [] }
}

/// Every reproduction, by name. Add a new one here (one line) after adding its file.
public enum Reproductions {
    public static var all: [any Reproduction.Type] {
        var list: [any Reproduction.Type] = []
        list += optimizerReproductions
        list += lowBitReproductions
        list += diffusionReproductions
        return list
    }

    public static func named(_ name: String) -> (any Reproduction.Type)? { all.first { $0.name == name } }
}
