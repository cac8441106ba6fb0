extension Reproductions {
    /// Issue 4: optimizer and stability reproductions.
    static var optimizerReproductions: [any Reproduction.Type] { [] }
}
