"""The shipped configuration: YAML files a deployment copies and edits (installed as jingyu.defaults)."""
