import Gradus
