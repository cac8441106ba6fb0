import GradusRuntime

/// Runs the cases of a golden optimizer file (`golden/optimizers.json` format, spec §0.2) against this
/// module, in float64 or float32, with the spec's tolerances (§0.3). The CLI's `gradus conformance FILE`
/// calls `run(file:precision:)`.
public enum OptimizerConformance {
    /// Arithmetic of a run.
    public enum Precision: String, Sendable, CaseIterable { case float64, float32 }

    /// Outcome of one case.
    public enum Status: Equatable, Sendable {
        case passed
        case failed(String)
        case unsupported(String)
    }

    /// One case's result: status and the largest absolute and relative deviations over the checked numbers.
    public struct CaseResult: Sendable {
        public var name: String
        public var technique: String
        public var status: Status
        public var maxAbsoluteError: Double
        public var maxRelativeError: Double
        /// Numbers compared.
        public var checkedValues: Int
        /// Keys of the case's `hyperparameters` that the runner never read (a failure names them too).
        public var unreadHyperparameters: [String] = []
    }

    /// Checks the file header (`magic`, `format_version`) and runs every case.
    public static func run(file: JSON, precision: Precision = .float64) throws(GradusError) -> [CaseResult] {
        guard file["magic"]?.string == "gradus-golden-optimizers" else {
            throw .format("not a golden optimizer file (magic must be \"gradus-golden-optimizers\")")
        }
        guard file["format_version"]?.int == 1 else { throw .format("unsupported golden format_version (need 1)") }
        guard let cases = file["cases"]?.array else { throw .format("golden file has no 'cases' array") }
        var out: [CaseResult] = []
        for c in cases { out.append(try run(case: c, precision: precision)) }
        return out
    }

    /// Runs one case object. Malformed cases throw `GradusError.format`; unknown kinds or techniques of spec
    /// sections 9–13 (and the NN layers) report `.unsupported`.
    public static func run(case c: JSON, precision: Precision = .float64) throws(GradusError) -> CaseResult {
        let name = try c.field("name").stringValue("name")
        let technique = c["technique"]?.string ?? ""
        var cmp = Comparison(precision: precision, floor32: 1e-6)
        let h = Hyperparameters(json: c["hyperparameters"] ?? .object([:]))
        do {
            switch try c.field("kind").stringValue("kind") {
            case "optimizer_trajectory":
                if let dev = c["float32_max_abs_dev"]?.double { cmp.floor32 = Swift.max(1e-6, 10 * dev) }
                switch precision {
                case .float64: try trajectory(c, technique: technique, h, Double.self, &cmp)
                case .float32: try trajectory(c, technique: technique, h, Float.self, &cmp)
                }
            case "optimizer_comparison":
                switch precision {
                case .float64: try comparison(c, technique: technique, h, Double.self, &cmp)
                case .float32: try comparison(c, technique: technique, h, Float.self, &cmp)
                }
            case "lr_schedule": try schedule(c, h, &cmp)
            case "lr_refinement": try refinement(c, h, &cmp)
            case "batch_size_test": try batchSizeTest(c, h, &cmp)
            case "function": try functionCase(c, technique: technique, h, &cmp)
            case let k: throw Unsupported(reason: "unknown case kind '\(k)'")
            }
        } catch let u as Unsupported {
            return CaseResult(name: name, technique: technique, status: .unsupported(u.reason),
                              maxAbsoluteError: 0, maxRelativeError: 0, checkedValues: 0)
        } catch let e as GradusError {
            throw e
        } catch {
            throw .internal("\(error)")
        }
        let unread = h.unread
        var status: Status = cmp.failures.isEmpty ? .passed : .failed(cmp.failures.prefix(3).joined(separator: "; "))
        if case .failed(let why) = status, !unread.isEmpty {
            status = .failed(why + " (hyperparameters this runner does not read: \(unread.joined(separator: ", ")))")
        }
        return CaseResult(name: name, technique: technique, status: status, maxAbsoluteError: cmp.maxAbs,
                          maxRelativeError: cmp.maxRel, checkedValues: cmp.count, unreadHyperparameters: unread)
    }

    struct Unsupported: Error { var reason: String }

    /// Accumulates deviations against the tolerance of the precision.
    struct Comparison {
        var precision: Precision
        /// Absolute floor of the float32 tolerance (trajectories: max(1e-6, 10·float32_max_abs_dev)).
        var floor32: Double
        var maxAbs = 0.0, maxRel = 0.0, count = 0
        var failures: [String] = []

        func tolerance(_ ref: Double, float64Only: Bool) -> Double {
            switch precision {
            case .float64: return 1e-12 + 1e-9 * abs(ref)
            case .float32: return float64Only ? .infinity : floor32 + 1e-5 * abs(ref)
            }
        }

        mutating func check(_ label: String, _ x: Double, _ ref: Double, float64Only: Bool = false) {
            if float64Only && precision == .float32 { return }
            count += 1
            let d = abs(x - ref)
            if !(d <= tolerance(ref, float64Only: float64Only)) || x.isNaN != ref.isNaN {
                failures.append("\(label): got \(x), expected \(ref)")
            }
            if x.isNaN || ref.isNaN { return }
            maxAbs = Swift.max(maxAbs, d)
            if ref != 0 { maxRel = Swift.max(maxRel, d / abs(ref)) }
        }

        mutating func check(_ label: String, _ xs: [Double], _ refs: [Double], float64Only: Bool = false) {
            guard xs.count == refs.count else {
                failures.append("\(label): \(xs.count) values, expected \(refs.count)"); return
            }
            for i in xs.indices { check("\(label)[\(i)]", xs[i], refs[i], float64Only: float64Only) }
        }

        mutating func checkExact(_ label: String, _ x: Int, _ ref: Int) {
            count += 1
            if x != ref { failures.append("\(label): got \(x), expected \(ref)") }
        }
    }
}

extension JSON {
    func field(_ key: String) throws(GradusError) -> JSON {
        guard let v = self[key] else { throw .format("golden case lacks '\(key)'") }
        return v
    }
    func stringValue(_ what: String) throws(GradusError) -> String {
        guard let s = string else { throw .format("'\(what)' must be a string") }
        return s
    }
    func doubles(_ what: String) throws(GradusError) -> [Double] {
        guard let d = flatDoubles else { throw .format("'\(what)' must be a numeric array") }
        return d
    }
    func ints(_ what: String) throws(GradusError) -> [Int] {
        guard let d = flatInts else { throw .format("'\(what)' must be an array of integers") }
        return d
    }
    func integer(_ what: String) throws(GradusError) -> Int {
        guard let d = int else { throw .format("'\(what)' must be an integer") }
        return d
    }
    func number(_ what: String) throws(GradusError) -> Double {
        guard let d = double else { throw .format("'\(what)' must be a number") }
        return d
    }
}
