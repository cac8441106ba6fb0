// GradusC
