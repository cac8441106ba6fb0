import ArgumentParser
import Gradus

/// One line of the conformance report, whatever module ran the case.
struct ConformanceRow {
    enum Status: String { case pass, fail, unsupported }
    var name: String
    var kind: String
    var status: Status
    var maxAbs: Double
    var maxRel: Double
    var message: String
}

struct ConformanceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "conformance",
        abstract: "Run every case of a golden file (optimizers, lowbit, guidance) and report pass / fail / unsupported.",
        discussion: "Exits non-zero when any case fails. Unsupported cases (techniques a later release adds) do not fail the run.")

    @Argument(help: "A golden JSON file in the format of spec/*.md §0.") var file: String
    @Option(help: "Arithmetic: float64 (the golden precision) or float32 (checked with the float32 tolerance).") var precision = "float64"
    @Flag(help: "Print one JSON object instead of a table.") var json = false
    @Flag(help: "Print only failures and the summary.") var quiet = false

    func run() throws {
        let bytes = try cli { () throws(GradusError) in try FileIO.readAll(file, maxBytes: 1 << 30) }
        let doc = try cli { () throws(GradusError) in try JSON.parse(bytes: bytes) }
        guard precision == "float64" || precision == "float32" else { throw CLIError("--precision must be float64 or float32") }
        let f64 = precision == "float64"
        let rows = try cli { () throws(GradusError) in try Self.runAll(doc, float64: f64) }
        let passed = rows.filter { $0.status == .pass }.count
        let failed = rows.filter { $0.status == .fail }.count
        let unsupported = rows.filter { $0.status == .unsupported }.count
        if json {
            print(JSON.object([
                "file": .string(file), "precision": .string(precision),
                "passed": .number(Double(passed)), "failed": .number(Double(failed)), "unsupported": .number(Double(unsupported)),
                "cases": .array(rows.map { r in .object([
                    "name": .string(r.name), "kind": .string(r.kind), "status": .string(r.status.rawValue),
                    "max_abs_error": .number(r.maxAbs), "max_rel_error": .number(r.maxRel), "message": .string(r.message),
                ]) }),
            ]).serialized)
        } else {
            var table = Table(title: "conformance: \(file) (\(precision))", header: ["case", "kind", "status", "max abs err", "max rel err", "note"])
            for r in rows where !quiet || r.status == .fail {
                table.add([r.name, r.kind, r.status.rawValue, sci(r.maxAbs), sci(r.maxRel), String(r.message.prefix(60))])
            }
            print(table.render())
            print("\(passed) passed, \(failed) failed, \(unsupported) unsupported")
        }
        if failed > 0 { throw ExitCode(1) }
    }

    func sci(_ x: Double) -> String {
        guard x.isFinite else { return x.isNaN ? "-" : "inf" }
        if x == 0 { return "0" }
        var e = 0, m = x
        while m >= 10 { m /= 10; e += 1 }
        while m < 1 { m *= 10; e -= 1 }
        return "\(fmt(m, 2))e\(e)"
    }

    /// Dispatches on the file's magic/suite.
    static func runAll(_ doc: JSON, float64: Bool) throws(GradusError) -> [ConformanceRow] {
        if doc["magic"]?.string == "gradus-golden-optimizers" {
            return try OptimizerSuite.run(doc, float64: float64)
        }
        guard doc["format"]?.string == "gradus-golden-v1", let suite = doc["suite"]?.string else {
            throw .format("not a Gradus golden file (no magic \"gradus-golden-optimizers\" nor format \"gradus-golden-v1\")")
        }
        guard let cases = doc["cases"]?.array else { throw .format("golden file has no cases") }
        switch suite {
        case "lowbit":
            return try cases.map { c throws(GradusError) in
                // bnb_adam8bit cases run GradusOptim's 8-bit Adam, the optimizer users train with
                let r = try QuantConformance.run(case: c, precision: float64 ? .float64 : .float32,
                                                 adam8bit: Adam8bitConformance.runner)
                return ConformanceRow(name: r.id, kind: r.op, status: ConformanceRow.Status(rawValue: r.status.rawValue)!,
                                      maxAbs: r.maxAbsError, maxRel: r.maxRelError, message: r.message)
            }
        case "guidance":
            return try cases.map { c throws(GradusError) in
                let r = try GuidanceConformance.run(case: c, precision: float64 ? .float64 : .float32)
                return ConformanceRow(name: r.id, kind: r.op, status: ConformanceRow.Status(rawValue: r.status.rawValue)!,
                                      maxAbs: r.maxAbsError, maxRel: r.maxRelError, message: r.message)
            }
        default:
            return cases.map { c in
                ConformanceRow(name: c["id"]?.string ?? "?", kind: c["op"]?.string ?? "?", status: .unsupported,
                               maxAbs: .nan, maxRel: .nan, message: "suite '\(suite)' arrives in a later release")
            }
        }
    }
}
