// Helpers for the GradusNN tests: deterministic inputs, a finite-difference check over a module's
// parameters (the shared `gradcheck` covers functional ops, whose inputs it can copy), and fixture loading.
import Foundation
import GradusNN
import GradusRuntime
import GradusTensor
import Testing

/// float64 (default) normal samples, reproducible from `seed`.
func randn(_ shape: [Int], seed: UInt64, dtype: DType = .float64) -> Tensor {
    Tensor.normal(shape, seed: seed, dtype: dtype)
}

struct ModuleGradcheckFailure: Error, CustomStringConvertible {
    let name: String, element: Int, analytic: Double, numeric: Double
    var description: String { "\(name)[\(element)]: autodiff \(analytic), finite differences \(numeric)" }
}

/// Compares autodiff gradients of L = Σ module(x)·w with central differences, for every parameter of
/// `module` (perturbed in place) and, when `input` requires no exemption, for the input. float64 only.
func checkModuleGradients(_ module: Module, input: Tensor, checkInput: Bool = true, eps: Double = 1e-6,
                          atol: Double = 1e-6, rtol: Double = 1e-5) throws {
    let x = GradMode.withoutGrad { input.clone() }.requiringGrad(checkInput)
    let y = try module(x)
    let w = Tensor.normal(y.shape, seed: 0xC0FFEE, dtype: .float64)
    var targets = module.namedParameters()
    if checkInput { targets.append(("input", x)) }
    let analytic = try Tensor.gradients(of: [y], wrt: targets.map(\.1), gradOutputs: [w]).map { $0.scalars(as: Double.self) }
    let ws = w.scalars(as: Double.self)
    func loss() throws -> Double {
        try GradMode.withoutGrad { () throws -> Double in
            zip(try module(x).scalars(as: Double.self), ws).reduce(0) { $0 + $1.0 * $1.1 }
        }
    }
    for (t, (name, p)) in targets.enumerated() {
        precondition(p.dtype == .float64 && p.isContiguous)
        let ptr = p.basePointer(as: Double.self)
        for j in 0..<p.count {
            let saved = ptr[j]
            ptr[j] = saved + eps; let plus = try loss()
            ptr[j] = saved - eps; let minus = try loss()
            ptr[j] = saved
            let numeric = (plus - minus) / (2 * eps)
            if abs(analytic[t][j] - numeric) > atol + rtol * abs(numeric) {
                throw ModuleGradcheckFailure(name: name, element: j, analytic: analytic[t][j], numeric: numeric)
            }
        }
    }
}

/// The golden file copied from the shared references (found relative to this file), parsed once.
private let goldenDocument: Result<JSON, any Error> = Result {
    let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fixtures/optimizers.json")
    return try JSON.parse(String(contentsOf: url, encoding: .utf8))
}

func optimizersGolden() throws -> JSON {
    let doc = try goldenDocument.get()
    #expect(doc["magic"]?.string == "gradus-golden-optimizers")
    #expect(doc["format_version"]?.int == 1)
    return doc
}

func goldenCase(_ name: String) throws -> JSON {
    let doc = try optimizersGolden()
    guard let c = doc["cases"]?.array?.first(where: { $0["name"]?.string == name }) else {
        throw GradusError.notFound("golden case \(name)")
    }
    return c
}

func expectClose(_ a: [Double], _ b: [Double], tol: Double, _ what: String = "",
                 sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(a.count == b.count, "\(what): \(a.count) vs \(b.count) values", sourceLocation: sourceLocation)
    var worst = 0.0
    for (x, y) in zip(a, b) { worst = max(worst, abs(x - y) / max(1, abs(y))) }
    #expect(worst <= tol, "\(what): max deviation \(worst) > \(tol)", sourceLocation: sourceLocation)
}
