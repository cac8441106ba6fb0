import GradusRuntime
import Testing
@testable import GradusOptim

@Suite struct FusedOptimizerStateTests {
    /// A loaded step counter that is not a whole number in 0...2⁵³ (NaN, ±∞, huge, negative, fractional) throws
    /// `GradusError` instead of trapping in `Int(_:)`, and leaves the optimizer as it was.
    @Test(arguments: [Double.nan, .infinity, -.infinity, 1e300, 9.3e18, 9_007_199_254_740_994, -1, 2.5])
    func loadRejectsStepCountersOutOfRange(_ bad: Double) throws {
        let opt = try FusedOptimizer<Double>(chain: .stableSPAM(), shapes: [[2], [3]])
        var p = [[1.0, 2.0], [0.5, -0.5, 0.25]]
        try OptimizerConformance.withBuffers(&p, [[0.1, 0.2], [0.3, -0.1, 0.2]]) { try opt.step($0) }
        let good = opt.stateEntries()
        for name in ["step", "state.0.step", "state.1.step"] {
            var e = good
            let k = try #require(e.firstIndex { $0.name == name })
            e[k].values = [bad]
            // Change a moment too: a failed load must not have restored it.
            let m = try #require(e.firstIndex { $0.name == "state.0.exp_avg" })
            e[m].values = [7, 7]
            #expect(throws: GradusError.self, "\(name) = \(bad)") { try opt.loadState(e) }
            #expect(opt.stateEntries() == good)
        }
        try opt.loadState(good)
        #expect(opt.globalStep == 1)
    }

    /// The largest accepted counter (2⁵³) loads.
    @Test func loadAcceptsLargeWholeStepCounters() throws {
        let opt = try FusedOptimizer<Double>(chain: .adam(), shapes: [[2]])
        var e = opt.stateEntries()
        e[e.firstIndex { $0.name == "step" }!].values = [9_007_199_254_740_992]
        e[e.firstIndex { $0.name == "state.0.step" }!].values = [4096]
        try opt.loadState(e)
        #expect(opt.globalStep == 9_007_199_254_740_992)
        #expect(opt.tensorSteps == [4096])
    }
}
