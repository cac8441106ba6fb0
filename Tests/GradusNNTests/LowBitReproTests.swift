// The issue-5 low-bit reproductions at a tiny scale: plumbing (tables, claims, JSON), the LLaMA-style LM's
// projection quantization, finiteness. The papers' results need `scale: 1` (`gradus repro <name>`).
import Foundation
@testable import Gradus
import Testing

@Suite(.serialized) struct LowBitReproTests {
    static let fashionMNIST = "/usr/share/datasets/fashion-mnist"
    static var hasFashionMNIST: Bool { FileManager.default.fileExists(atPath: fashionMNIST + "/train-images-idx3-ubyte.gz") }

    static func options(_ scale: Double) -> ReproOptions {
        var o = ReproOptions()
        o.seed = 1
        o.scale = scale
        o.outputDirectory = nil
        o.fashionMNISTDirectory = fashionMNIST
        return o
    }

    static func checkTablesAndJSON(_ report: ReproReport, name: String) throws {
        #expect(report.name == name)
        #expect(!report.tables.isEmpty)
        for t in report.tables {
            #expect(!t.rows.isEmpty, "table '\(t.title)' is empty")
            for row in t.rows { #expect(row.count == t.header.count, "table '\(t.title)': row \(row) vs header \(t.header)") }
        }
        #expect(!report.claims.isEmpty)
        let text = report.json.serialized
        #expect(!text.contains("nan") && !text.contains("inf"))
        #expect(try JSON.parse(text)["name"]?.string == name)
    }

    @Test func registryListsTheThree() {
        let names = Set(Reproductions.all.map { $0.name })
        for n in ["stable-spam-4bit", "reste", "adam8bit"] { #expect(names.contains(n), "\(n) not registered") }
    }

    @Test func llamaProjectionsAreTheOnlyQuantizedLayers() throws {
        let m = try LowBitCharLLaMA(vocabulary: 20, width: 16, heads: 2, hidden: 32, layers: 2, context: 8, seed: 3)
        let q = try m.quantized(.stableSPAMInt4(groupSize: 16), include: LowBitCharLLaMA.isProjection)
        let paths = q.quantizedLayers.map(\.0)
        #expect(paths.count == 14)
        #expect(paths.allSatisfy { LowBitCharLLaMA.projectionNames.contains(String($0.split(separator: ".").last!)) })
        #expect(!paths.contains("lm_head"))
        #expect(q.namedParameters().map(\.0) == m.namedParameters().map(\.0))
        let lm = try #require(q as? LowBitCharLLaMA)
        let tokens = (0..<16).map { $0 % 20 }
        let loss = try Loss.crossEntropy(lm.logits(tokens, batch: 2, length: 8), labels: tokens.map { ($0 + 1) % 20 })
        try loss.backward()
        #expect(try loss.item().isFinite)
        #expect(m.parameters.allSatisfy { $0.grad != nil })
    }

    @Test func stableSPAM4bitTiny() throws {
        let r = try LowBitStableSPAM4bit.run(Self.options(0.001)) { _ in }  // 4 steps per run: debug builds are slow
        try Self.checkTablesAndJSON(r, name: "stable-spam-4bit")
        #expect(r.claims.count >= 2)
        #expect(r.tables[0].rows.count == 3 * LowBitStableSPAM4bit.learningRates.count)
        #expect(r.metrics["int4_stable_spam"]?.array?.count == LowBitStableSPAM4bit.learningRates.count)
    }

    @Test(.enabled(if: LowBitReproTests.hasFashionMNIST)) func resteTiny() throws {
        let r = try LowBitReSTE.run(Self.options(0.02)) { _ in }
        try Self.checkTablesAndJSON(r, name: "reste")
        #expect(r.metrics["test_accuracy_reste"]?.array?.count == 3)
        #expect(r.metrics["reste_o_per_epoch"]?.array?.first?.double == 1)
        // the o_end sweep {1, 1.5, 2, 3, 5, 10} plus the clipped STE, every arm over the same 3 seeds
        let sweep = try #require(r.metrics["sweep"]?.array)
        #expect(sweep.count == 7)
        #expect(sweep.map { $0["o_end"]?.double } == [nil, 1, 1.5, 2, 3, 5, 10])
        #expect(sweep.allSatisfy { $0["test_accuracy"]?.array?.count == 3 && $0["estimating_error"]?.double != nil })
        #expect(r.tables[0].rows.count == 7)
        #expect(r.claims.count == 5)
    }

    @Test func resteBinaryMLPFollowsTheOfficialLayout() throws {
        // vgg_small_1w1a as an MLP: fp first layer (no bias), ReLU before BN, binary hidden layers, fp classifier
        let m = try LowBitReSTE.model(hidden: 16, seed: 3, estimator: .reste(o: 1, t: 1.5))
        let binary = m.quantizedLayers
        #expect(binary.count == 2)
        let kinds = m.layers.layers.map { l -> String in
            l is BinaryLinear ? "bin" : l is Linear ? "fp" : l is BatchNorm ? "bn" : l is Activation ? "relu" : "?"
        }
        #expect(kinds == ["fp", "relu", "bn", "bin", "relu", "bn", "bin", "relu", "bn", "fp"])
        #expect(binary.allSatisfy { ($0.1.wrapped as? Linear)?.bias == nil })
        #expect(m.parameters.count == 11)  // first W; 3 BN × (γ, β); 2 binary W; classifier W, b
        let w = try #require(binary.first?.1.wrapped as? Linear).weight.scalars(as: Double.self)
        let std = (w.reduce(0) { $0 + $1 * $1 } / Double(w.count)).squareRoot()
        #expect(abs(std - (2.0 / 16).squareRoot()) < 0.1)
    }
}
