extension Reproductions {
    /// Issue 5: low-bit training reproductions.
    static var lowBitReproductions: [any Reproduction.Type] { [LowBitStableSPAM4bit.self, LowBitReSTE.self, LowBitAdam8bit.self] }
}
