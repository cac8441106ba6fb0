// GradusNN
