"""`python -m edge_kit.documents`: regenerate the shipped JSON Schemas from the models."""

from pathlib import Path

from edge_kit.documents import write_schemas

if __name__ == "__main__":
    for path in write_schemas(Path(__file__).parent / "schemas"):
        print(path)
