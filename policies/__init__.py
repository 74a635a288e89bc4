"""The decision engine: plain facts about one exchange in, a :class:`Decision` out.

Nothing here touches Flask or the database, so every rule is unit-tested as a pure
function and the same engine can replay recorded exchanges against a new policy.
"""
