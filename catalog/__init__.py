"""The catalog: tools IT has reviewed, departments, and the grants between them."""
