// GradusQuant
