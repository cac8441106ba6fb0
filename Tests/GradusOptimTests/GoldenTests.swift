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

    /// A copy of case `name` with its hyperparameters edited by `edit`.
    static func edited(_ name: String, _ edit: (inout [String: JSON]) -> Void) -> JSON {
        var c = Golden.named(name).object!
        var h = c["hyperparameters"]?.object ?? [:]
        edit(&h)
        c["hyperparameters"] = .object(h)
        return .object(c)
    }

    @Test func failureNamesTheHyperparametersNotRead() throws {
        // A key the runner does not implement: the case still runs, and passes when the key does not matter.
        let harmless = try OptimizerConformance.run(case: Self.edited("stablespam_default") { $0["amsgrad"] = .bool(false) })
        #expect(harmless.status == .passed)
        // When it fails, the message names the key it never read (here with a changed lr, so that it fails).
        let failing = try OptimizerConformance.run(case: Self.edited("stablespam_default") {
            $0["amsgrad"] = .bool(true)
            $0["lr"] = .number(0.5)
        })
        guard case .failed(let why) = failing.status else { Issue.record("expected a failure, got \(failing.status)"); return }
        #expect(why.contains("hyperparameters this runner does not read: amsgrad"), "\(why)")
        #expect(failing.unreadHyperparameters == ["amsgrad"])
        // Every key of the public cases is read.
        for name in Golden.supportedNames {
            let r = try OptimizerConformance.run(case: Golden.named(name))
            #expect(r.unreadHyperparameters.isEmpty, "\(name): \(r.unreadHyperparameters)")
        }
    }

    @Test func refinementWithAnotherFilterIsUnsupported() throws {
        let w = try OptimizerConformance.run(case: Self.edited("lr_refined_sgd_l2") { $0["median_width"] = .number(9) })
        guard case .unsupported(let why) = w.status else { Issue.record("\(w.status)"); return }
        #expect(why.contains("median_width 9"))
        let pad = try OptimizerConformance.run(case: Self.edited("lr_refined_adam_l1") { $0["reflect_pad_right"] = .number(3) })
        guard case .unsupported = pad.status else { Issue.record("\(pad.status)"); return }
        let norm = try OptimizerConformance.run(case: Self.edited("lr_refined_adam_l1") { $0["normalize"] = .string("divide by sum") })
        guard case .unsupported = norm.status else { Issue.record("\(norm.status)"); return }
    }

    @Test func malformedCaseThrows() {
        #expect(throws: GradusError.self) { try OptimizerConformance.run(case: .object(["kind": .string("lr_schedule")])) }
        #expect(throws: GradusError.self) { try OptimizerConformance.run(file: .object(["magic": .string("x")])) }
    }
}
