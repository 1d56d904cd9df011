"""`ddir-kit demo`: the whole flow on the virtual zoom camera, with accuracy against its truth."""
