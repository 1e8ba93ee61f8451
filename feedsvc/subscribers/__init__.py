"""How many people subscribe to each feed: who polls (`agents`), how they are counted (`tally`, `sketch`),
where the counts are kept (`ledger`), and the recorder a serving process notes polls with (`recorder`).
"""
