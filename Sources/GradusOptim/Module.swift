// GradusOptim
