extension Reproductions {
    /// Issue 4: optimizer and stability reproductions.
    static var optimizerReproductions: [any Reproduction.Type] {
        [OptimDiffGradSynthetic.self, OptimGrokking.self, OptimGhostBN.self, OptimLRRefinement.self, OptimLRSensitivity.self]
    }
}
