extension Reproductions {
    /// Issue 6: diffusion and guidance reproductions.
    static var diffusionReproductions: [any Reproduction.Type] {
        [DiffusionAPG.self, DiffusionAlignProp.self, DiffusionIntrinsicDimension.self]
    }
}
