import Foundation
import GradusRuntime
import Testing
@testable import GradusOptim

enum Golden {
    static let file: JSON = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/optimizers.json")
        let data = try! Data(contentsOf: url)
        return try! JSON.parse(bytes: Array(data))
    }()
    static var cases: [JSON] { file["cases"]!.array! }
    static func named(_ n: String) -> JSON { cases.first { $0["name"]?.string == n }! }
    /// Cases of spec sections 1–8 that this module must pass.
    static let supportedNames: [String] = cases.compactMap { c in
        let t = c["technique"]?.string ?? ""
        let excluded = ["ghost_batch_norm", "qk_layernorm", "coherent_gradients", "hessian_alignment", "pada", "sso",
                        "dynamical_stability"]
        return excluded.contains(t) ? nil : c["name"]?.string
    }
}

@Suite struct GoldenTests {
    @Test func fileHeader() throws {
        let results = try OptimizerConformance.run(file: Golden.file)
        #expect(results.count == Golden.cases.count)
    }

    @Test(arguments: Golden.supportedNames, OptimizerConformance.Precision.allCases)
    func goldenCase(_ name: String, _ precision: OptimizerConformance.Precision) throws {
        let r = try OptimizerConformance.run(case: Golden.named(name), precision: precision)
        #expect(r.status == .passed, "\(name) \(precision): \(r.status) maxAbs \(r.maxAbsoluteError)")
        #expect(r.checkedValues > 0)
    }

    @Test func laterSectionsAreUnsupported() throws {
        for n in ["coherence_and_robust_means", "sso_squared", "stability_diagnostics", "ghost_bn_2d"] {
            let r = try OptimizerConformance.run(case: Golden.named(n))
            guard case .unsupported = r.status else { Issue.record("\(n) should be unsupported"); continue }
        }
    }

    @Test func malformedCaseThrows() {
        #expect(throws: GradusError.self) { try OptimizerConformance.run(case: .object(["kind": .string("lr_schedule")])) }
        #expect(throws: GradusError.self) { try OptimizerConformance.run(file: .object(["magic": .string("x")])) }
    }
}
