import Foundation
import Testing
@testable import Gradus

/// Quick runs of the issue-4 reproductions at a tiny scale: the plumbing (tables, claims, JSON) and finiteness,
/// not the papers' results (those need `scale: 1`, see `gradus repro <name>`).
@Suite(.serialized) struct ReproOptimizersTests {
    static let fashionMNIST = "/usr/share/datasets/fashion-mnist"
    static var hasFashionMNIST: Bool { FileManager.default.fileExists(atPath: fashionMNIST + "/train-images-idx3-ubyte.gz") }

    static func options(_ scale: Double = 0.02) -> ReproOptions {
        var o = ReproOptions()
        o.seed = 1
        o.scale = scale
        o.outputDirectory = nil
        o.fashionMNISTDirectory = fashionMNIST
        return o
    }

    /// Every table is rectangular, claims exist, the JSON names the run and has only finite numbers.
    static func checkStructure(_ report: ReproReport, name: String) {
        #expect(report.name == name)
        #expect(!report.tables.isEmpty)
        for t in report.tables {
            #expect(!t.rows.isEmpty, "table '\(t.title)' is empty")
            for row in t.rows { #expect(row.count == t.header.count, "table '\(t.title)': row \(row) vs header \(t.header)") }
        }
        #expect(!report.claims.isEmpty)
        let json = report.json
        #expect(json["name"]?.string == name)
        #expect(json["claims"]?.array?.count == report.claims.count)
        #expect(json["seconds"]?.double.map { $0 >= 0 } == true)
        // Round trip through the serializer (no NaN or inf can appear in JSON text).
        let text = json.serialized
        #expect(!text.contains("nan") && !text.contains("inf"))
        #expect((try? JSON.parse(text)) != nil)
    }

    /// All numbers of a JSON value, recursively.
    static func numbers(_ j: JSON?) -> [Double] {
        switch j {
        case .number(let d)?: return [d]
        case .array(let a)?: return a.flatMap { numbers($0) }
        case .object(let o)?: return o.values.flatMap { numbers($0) }
        default: return []
        }
    }

    /// Scales that would turn into NaN, infinite or overflowing step counts are refused.
    @Test func scaleIsValidated() throws {
        for bad in [0, -1, .nan, .infinity, 1e300] as [Double] {
            var o = ReproOptions()
            o.scale = bad
            #expect(throws: GradusError.self) { try o.validate() }
        }
        for good in [0.01, 1, 100] as [Double] {
            var o = ReproOptions()
            o.scale = good
            try o.validate()
        }
    }

    @Test func registryListsTheFive() {
        let names = Set(Reproductions.all.map { $0.name })
        for n in ["diffgrad-synthetic", "grokking", "ghost-bn", "lr-refinement", "lr-sensitivity"] {
            #expect(names.contains(n), "\(n) not registered")
        }
    }

    @Test func diffGradSynthetic() throws {
        let r = try OptimDiffGradSynthetic.run(Self.options()) { _ in }
        Self.checkStructure(r, name: "diffgrad-synthetic")
        let functions = try #require(r.metrics["functions"]?.object)
        #expect(functions.keys.sorted() == ["F1", "F2", "F3"])
        for (_, f) in functions {
            #expect(f["adam_trajectory"]?.array?.count == 300)
            #expect(Self.numbers(f["diffgrad_trajectory"]).count == 300)
            #expect(Self.numbers(f["diffgrad_trajectory"]).allSatisfy { $0.isFinite })
            // diffGrad's step never exceeds Adam's first step (ξ ≤ 1): both start at −1.
            #expect(f["adam_trajectory"]?[0]?.double == -1)
        }
        #expect(r.claims.count == 4)
    }

    @Test func grokking() throws {
        let r = try OptimGrokking.run(Self.options(0.0001)) { _ in }
        Self.checkStructure(r, name: "grokking")
        let runs = try #require(r.metrics["runs"]?.object)
        #expect(runs.count == 4)
        for (_, run) in runs {
            let acc = Self.numbers(run["test_accuracy"])
            #expect(!acc.isEmpty && acc.allSatisfy { $0 >= 0 && $0 <= 1 })
            #expect(Self.numbers(run["train_loss"]).allSatisfy { $0.isFinite })
            #expect(Self.numbers(run["zero_loss_fraction"]).allSatisfy { $0 >= 0 && $0 <= 1 })
        }
    }

    /// `arms` runs only the selected runs, reports only the claims over them, and refuses names it lacks.
    @Test func grokkingSelectedArm() throws {
        var o = Self.options(0.0001)
        o.arms = ["stablemax"]
        let r = try OptimGrokking.run(o) { _ in }
        Self.checkStructure(r, name: "grokking")
        let runs = try #require(r.metrics["runs"]?.object)
        #expect(runs.keys.sorted() == ["StableMax + AdamW"])
        #expect(r.claims.count == 2)
        #expect(r.claims.allSatisfy { $0.claim.hasPrefix("StableMax") })
        for bad in [["nope"], [], ["stablemax", "softmax"]] {
            o.arms = bad
            #expect(throws: GradusError.self) { try OptimGrokking.run(o) { _ in } }
        }
        o.arms = ["stablemax"]
        #expect(throws: GradusError.self) { try o.validate(for: OptimGhostBN.self) }
        #expect(OptimGrokking.checkpoints(total: 80_000).contains(56_000))
        #expect(OptimGrokking.checkpoints(total: 1_500) == Set([10, 18, 32, 56, 100, 178, 316, 562, 1000, 1500]))
    }

    @Test(.enabled(if: ReproOptimizersTests.hasFashionMNIST)) func ghostBN() throws {
        let r = try OptimGhostBN.run(Self.options()) { _ in }
        Self.checkStructure(r, name: "ghost-bn")
        let runs = try #require(r.metrics["runs"]?.object)
        #expect(runs.count == 3)
        for (_, run) in runs {
            let acc = try #require(run["test_accuracy"]?.double)
            #expect(acc > 0.1 && acc <= 1)
            #expect(run["test_loss"]?.double?.isFinite == true)
        }
    }

    @Test(.enabled(if: ReproOptimizersTests.hasFashionMNIST)) func lrRefinement() throws {
        let r = try OptimLRRefinement.run(Self.options()) { _ in }
        Self.checkStructure(r, name: "lr-refinement")
        let schedule = Self.numbers(r.metrics["refined_schedule_seed0"])
        #expect(!schedule.isEmpty && schedule.allSatisfy { $0 >= 0 && $0 <= 1 })
        #expect(schedule.max() == 1)
        let runs = try #require(r.metrics["runs"]?.object)
        #expect(runs.keys.sorted() == ["cosine", "linear", "refined"])
        for (_, run) in runs { #expect(Self.numbers(run["test_loss"]).allSatisfy { $0.isFinite }) }
    }

    @Test func lrSensitivity() throws {
        let r = try OptimLRSensitivity.run(Self.options()) { _ in }
        Self.checkStructure(r, name: "lr-sensitivity")
        #expect(r.tables[0].rows.count == OptimLRSensitivity.learningRates.count)
        let runs = try #require(r.metrics["runs"]?.object)
        #expect(runs.count == 2)
        for (_, run) in runs {
            #expect(run["lr_sensitivity"]?.double.map { $0 >= 0 } == true)
            #expect(Self.numbers(run["final_validation_loss"]).count <= OptimLRSensitivity.learningRates.count)
        }
    }

    @Test func lrSensitivityReadsAGivenTextFile() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("gradus-repro-text-\(getpid()).txt").path
        try String(repeating: "the quick brown fox jumps over the lazy dog. ", count: 400).write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        var o = Self.options(0.01)
        o.textPath = path
        let r = try OptimLRSensitivity.run(o) { _ in }
        let settings = try #require(r.metrics["settings"]?.object)
        #expect(settings["corpus"]?.string == path)
        #expect(settings["corpus_is_fallback"]?.bool == false)
        #expect(settings["vocabulary"]?.double == 28)
        var missing = Self.options(0.01)
        missing.textPath = path + ".missing"
        #expect(throws: GradusError.self) { try OptimLRSensitivity.run(missing) { _ in } }
    }
}
