print("gradus")
