import Gradus

/// The optimizer golden file: optimizer cases run in GradusOptim, layer/loss cases (StableMax, Ghost BN,
/// qk-LayerNorm, z-loss) in GradusNN.
enum OptimizerSuite {
    static func run(_ doc: JSON, float64: Bool) throws(GradusError) -> [ConformanceRow] {
        guard doc["format_version"]?.int == 1 else { throw .format("unsupported golden format_version (need 1)") }
        guard let cases = doc["cases"]?.array else { throw .format("golden file has no 'cases' array") }
        var rows: [ConformanceRow] = []
        for c in cases {
            if let row = try NNSuite.run(c, float64: float64) { rows.append(row); continue }
            let r = try OptimizerConformance.run(case: c, precision: float64 ? .float64 : .float32)
            let (status, message): (ConformanceRow.Status, String)
            switch r.status {
            case .passed: (status, message) = (.pass, "")
            case .failed(let m): (status, message) = (.fail, m)
            case .unsupported(let m): (status, message) = (.unsupported, m)
            }
            rows.append(ConformanceRow(name: r.name, kind: r.technique, status: status,
                                       maxAbs: r.maxAbsoluteError, maxRel: r.maxRelativeError, message: message))
        }
        return rows
    }
}

/// Layer-side cases of the optimizer golden file (StableMax, Ghost BN, qk-LayerNorm, z-loss).
enum NNSuite {
    static func run(_ c: JSON, float64: Bool) throws(GradusError) -> ConformanceRow? {
        guard let r = try NNConformance.run(case: c, dtype: float64 ? .float64 : .float32) else { return nil }
        return ConformanceRow(name: c["name"]?.string ?? "?", kind: c["technique"]?.string ?? "?", status: r.passed ? .pass : .fail,
                              maxAbs: r.maxAbsErr, maxRel: r.maxRelErr, message: r.passed ? "" : "outside tolerance")
    }
}
