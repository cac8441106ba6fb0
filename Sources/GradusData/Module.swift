// GradusData
