import GradusRuntime
import GradusTensor

/// Outcome of one golden case.
public struct CaseResult: Sendable, CustomStringConvertible {
    public enum Status: String, Sendable { case pass, fail, unsupported }
    public var id: String
    public var op: String
    public var status: Status
    /// Largest `|got − want|` over the compared float outputs.
    public var maxAbsError: Double
    /// Largest `|got − want| / |want|` over the compared float outputs (`want ≠ 0`).
    public var maxRelError: Double
    /// Why it failed or is unsupported ("" on pass).
    public var message: String

    public var description: String {
        "\(status.rawValue) \(id) [\(op)] maxAbs=\(maxAbsError) maxRel=\(maxRelError)\(message.isEmpty ? "" : " — " + message)"
    }
}

/// Runs cases of the low-bit golden file (`format: gradus-golden-v1`, `suite: lowbit`; spec §0) against the
/// GradusQuant kernels. Every `op` of the file is covered (`bnb_adam8bit` runs the optimizer `adam8bit` makes —
/// GradusOptim's, from `gradus conformance` — or, without one, an in-module oracle); an unknown `op` reports
/// `.unsupported`.
public enum QuantConformance {
    /// Arithmetic the kernels run in (inputs are float32-representable; tolerances come from the case).
    public enum Precision: Sendable { case float32, float64 }

    /// Runs one case object. Throws `GradusError.format` when the case is malformed (missing fields).
    /// - Parameter adam8bit: the 8-bit Adam under test for `bnb_adam8bit` cases (always float32); nil runs the
    ///   in-module oracle.
    public static func run(case c: JSON, precision: Precision = .float64,
                           adam8bit: Adam8bitCaseRunnerFactory? = nil) throws(GradusError) -> CaseResult {
        guard let id = c["id"]?.string, let op = c["op"]?.string else {
            throw .format("QuantConformance: case without id/op")
        }
        var checker = Checker(tol: c["tol"] ?? .null)
        let body: (inout Checker) throws(GradusError) -> Bool
        switch precision {
        case .float32: body = { (k: inout Checker) throws(GradusError) -> Bool in try Ops<Float>.run(op, c, &k, adam8bit: adam8bit) }
        case .float64: body = { (k: inout Checker) throws(GradusError) -> Bool in try Ops<Double>.run(op, c, &k, adam8bit: adam8bit) }
        }
        let supported = try body(&checker)
        if !supported {
            return CaseResult(id: id, op: op, status: .unsupported, maxAbsError: 0, maxRelError: 0,
                              message: "op '\(op)' is not implemented by GradusQuant")
        }
        return CaseResult(id: id, op: op, status: checker.failures.isEmpty ? .pass : .fail,
                          maxAbsError: checker.maxAbs, maxRelError: checker.maxRel,
                          message: checker.failures.joined(separator: "; "))
    }

    /// Parses a whole golden file and runs every case.
    public static func runFile(_ text: String, precision: Precision = .float64,
                               adam8bit: Adam8bitCaseRunnerFactory? = nil) throws(GradusError) -> [CaseResult] {
        let doc = try JSON.parse(text)
        guard doc["format"]?.string == "gradus-golden-v1" else { throw .format("QuantConformance: not a gradus-golden-v1 file") }
        guard let cases = doc["cases"]?.array else { throw .format("QuantConformance: no cases") }
        var out: [CaseResult] = []
        for c in cases { out.append(try run(case: c, precision: precision, adam8bit: adam8bit)) }
        return out
    }
}

/// Compares outputs with the case's tolerances and accumulates errors.
struct Checker {
    let tol: JSON
    var maxAbs = 0.0
    var maxRel = 0.0
    var failures: [String] = []

    init(tol: JSON) { self.tol = tol }

    func bounds(_ name: String) -> (rtol: Double, atol: Double) {
        if let t = tol[name], t.object != nil { return (t["rtol"]?.double ?? 0, t["atol"]?.double ?? 0) }
        return (tol["rtol"]?.double ?? 0, tol["atol"]?.double ?? 0)
    }

    /// Float comparison `|got − want| ≤ atol + rtol·|want|`; a missing `want` is skipped.
    mutating func values(_ name: String, _ got: [Double], _ want: JSON?, exempt: Set<Int> = []) {
        guard let want else { return }
        guard let w = want["data"]?.flatDoubles ?? want.flatDoubles else { failures.append("\(name): bad expected value"); return }
        guard w.count == got.count else { failures.append("\(name): count \(got.count) ≠ expected \(w.count)"); return }
        let (rtol, atol) = bounds(name)
        var bad = 0, first = -1
        for i in 0..<w.count where !exempt.contains(i) {
            let d = abs(got[i] - w[i])
            if !(d <= atol + rtol * abs(w[i])) && !(got[i].isNaN && w[i].isNaN) { bad += 1; if first < 0 { first = i } }
            if d.isFinite {
                maxAbs = max(maxAbs, d)
                if w[i] != 0 { maxRel = max(maxRel, d / abs(w[i])) }
            }
        }
        if bad > 0 { failures.append("\(name): \(bad) of \(w.count) outside tolerance (first at \(first): got \(got[first]), want \(w[first]))") }
    }

    /// Exact integer comparison; returns the mismatching indices. `allowed` mismatches do not fail.
    @discardableResult
    mutating func codes(_ name: String, _ got: [Int], _ want: JSON?, allowed: Int = 0) -> Set<Int> {
        guard let want else { return [] }
        guard let w = want["data"]?.flatDoubles ?? want.flatDoubles else { failures.append("\(name): bad expected value"); return [] }
        guard w.count == got.count else { failures.append("\(name): count \(got.count) ≠ expected \(w.count)"); return [] }
        var bad = Set<Int>()
        for i in 0..<w.count where Double(got[i]) != w[i] { bad.insert(i) }
        if bad.count > allowed, let first = bad.min() {
            failures.append("\(name): \(bad.count) of \(w.count) codes differ (first at \(first): got \(got[first]), want \(w[first]))")
        }
        return bad
    }

    mutating func fail(_ message: String) { failures.append(message) }
}

/// Tensor helpers for case parsing.
enum CaseData {
    static func tensor(_ j: JSON?, _ what: String) throws(GradusError) -> (shape: [Int], data: [Double]) {
        guard let j, let data = j["data"]?.flatDoubles else { throw .format("QuantConformance: missing tensor '\(what)'") }
        let shape = j["shape"]?.array?.compactMap { $0.int } ?? [data.count]
        guard shape.reduce(1, *) == data.count else { throw .format("QuantConformance: tensor '\(what)' shape/data mismatch") }
        return (shape, data)
    }

    static func int(_ j: JSON?, _ what: String) throws(GradusError) -> Int {
        guard let v = j?.int else { throw .format("QuantConformance: missing integer parameter '\(what)'") }
        return v
    }

    static func double(_ j: JSON?, _ what: String) throws(GradusError) -> Double {
        guard let v = j?.double else { throw .format("QuantConformance: missing number parameter '\(what)'") }
        return v
    }
}
