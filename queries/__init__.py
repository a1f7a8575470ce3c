"""The read side served by the API: readers and the view Structs they return."""
