// GradusDiffusion
