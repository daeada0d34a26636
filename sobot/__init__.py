"""sobot"""
