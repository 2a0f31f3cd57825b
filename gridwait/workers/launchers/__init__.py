"""workers/launchers"""
