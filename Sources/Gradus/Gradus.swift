// The umbrella module: `import Gradus` gives the whole library.
@_exported import GradusRuntime
@_exported import GradusTensor
@_exported import GradusData
@_exported import GradusQuant
@_exported import GradusNN
@_exported import GradusOptim
@_exported import GradusDiffusion
