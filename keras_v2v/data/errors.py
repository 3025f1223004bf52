"""The one exception type the data layer raises for bad input files."""


class DataError(ValueError):
    """A file or array that cannot be used as video or volume data.

    Always names the offending file (or argument) and says what was expected
    and what was found, e.g. ``DataError("clip.mp4: no video stream found")``.
    Subclasses ValueError so generic callers that catch ValueError keep working.
    """

    def __init__(self, source, problem):
        self.source = str(source)
        self.problem = str(problem)
        super().__init__(f"{self.source}: {self.problem}")
